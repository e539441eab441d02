package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"

	"github.com/google/uuid"
)

// RecoveryCodeCount is how many recovery codes a set has.
const RecoveryCodeCount = 10

// recoveryBytes is each code's randomness: 80 bits, 16 base32 characters,
// so that its stored SHA-256 cannot be searched back to the code.
const recoveryBytes = 10

// NewRecoveryCodes returns a new set of codes as shown to the user
// (XXXX-XXXX-XXXX-XXXX).
func NewRecoveryCodes() []string {
	codes := make([]string, RecoveryCodeCount)
	for i := range codes {
		raw := make([]byte, recoveryBytes)
		_, _ = rand.Read(raw) // never fails (crypto/rand)
		s := base32.StdEncoding.EncodeToString(raw)
		codes[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	return codes
}

// HashRecoveryCode is what the database keeps of a code of userID: the
// SHA-256 of the code in canonical form (upper case, without dashes and
// spaces), bound to the user.
func HashRecoveryCode(userID uuid.UUID, code string) []byte {
	canon := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	h := sha256.New()
	h.Write(userID[:])
	h.Write([]byte(canon))
	return h.Sum(nil)
}

// SecretAAD is what a factor's sealed secret is bound to: the factor and
// its user, so a sealed secret moved to another row, or a row moved to
// another user, does not open.
func SecretAAD(factorID, userID uuid.UUID) []byte {
	return append(factorID[:len(factorID):len(factorID)], userID[:]...)
}
