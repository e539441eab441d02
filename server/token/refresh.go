package token

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"

	"github.com/google/uuid"
)

// NewOpaque returns a new opaque token (refresh tokens, mailed links): 256
// random bits, base64url.
func NewOpaque() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashOpaque is what the database stores and looks opaque tokens up by.
func HashOpaque(tok string) []byte {
	sum := sha256.Sum256([]byte(tok))
	return sum[:]
}

// SealSuccessor encrypts successor with a key derived from its predecessor, so
// only a client holding the predecessor can recover it during the retry
// window. The session, the predecessor's row and the client that rotated
// (clientip.Key) are associated data: the sealed value opens only in the row
// it was written for, and only for that client, so a retry is the lost
// answer's client asking again, never another holder of the token.
func SealSuccessor(predecessor, successor string, sessionID, tokenID uuid.UUID, client string) []byte {
	gcm := successorAEAD(predecessor)
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return gcm.Seal(nonce, nonce, []byte(successor), successorAD(sessionID, tokenID, client))
}

// OpenSuccessor reverses SealSuccessor.
func OpenSuccessor(predecessor string, sealed []byte, sessionID, tokenID uuid.UUID, client string) (string, error) {
	gcm := successorAEAD(predecessor)
	if len(sealed) < gcm.NonceSize() {
		return "", errors.New("sealed successor too short")
	}
	out, err := gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], successorAD(sessionID, tokenID, client))
	return string(out), err
}

func successorAEAD(predecessor string) cipher.AEAD {
	// Domain-separated from HashOpaque so the stored hash is not the key.
	key := sha256.Sum256([]byte("authd refresh successor v1\x00" + predecessor))
	block, _ := aes.NewCipher(key[:]) // a 32-byte key never fails
	gcm, _ := cipher.NewGCM(block)
	return gcm
}

func successorAD(sessionID, tokenID uuid.UUID, client string) []byte {
	ad := append(append([]byte("authd refresh successor v2\x00"), sessionID[:]...), tokenID[:]...)
	return append(ad, client...)
}
