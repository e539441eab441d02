// Package datakeys is the data-encryption key set: the AES-256-GCM keys that
// seal secrets authd must read back (TOTP secrets), kept apart from the
// signing keys, which rotate on their own schedule.
//
// The key set file is JSON:
//
//	{"keys":[{"kid":"dk-20261202-3f9a1c","secret":"<base64url of 32 bytes>","status":"primary"},
//	         {"kid":"dk-20260601-77b0e2","secret":"...","status":"decrypt"}]}
//
// Exactly one key is primary: it seals. The others only open what they
// sealed, until `authd datakeys rewrap` has moved every secret to the
// primary and `authd datakeys remove` deletes them. No message of this
// package ever contains a secret.
package datakeys

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"time"
)

// Statuses of a key in the file.
const (
	StatusPrimary = "primary" // seals, and opens
	StatusDecrypt = "decrypt" // opens only
)

// KeySize is the size of a secret: AES-256.
const KeySize = 32

// DevelopmentKid names the fixed development key.
const DevelopmentKid = "development"

// Errors Open returns, wrapped with the kid.
var (
	ErrUnknownKey = errors.New("no data key with this kid")
	ErrOpen       = errors.New("sealed data does not open: corrupted, moved, or sealed with another key")
)

// kidPattern keeps kids printable and short: they are stored beside every
// sealed secret and shown in messages.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

type fileKey struct {
	Kid    string `json:"kid"`
	Secret string `json:"secret"`
	Status string `json:"status"`
}

type fileSet struct {
	Keys []fileKey `json:"keys"`
}

// Ring is a parsed key set. It is safe for concurrent use.
type Ring struct {
	primary string
	kids    []string // file order
	aeads   map[string]cipher.AEAD
}

// Parse reads a key set file strictly: unknown fields, duplicate or
// malformed kids, secrets that are not base64url of 32 bytes, unknown
// statuses and anything but exactly one primary are refused.
func Parse(data []byte) (*Ring, error) {
	set, err := decode(data)
	if err != nil {
		return nil, err
	}
	r := &Ring{aeads: map[string]cipher.AEAD{}}
	for i, k := range set.Keys {
		aead, err := newAEAD(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i+1, k.Kid, err)
		}
		r.kids = append(r.kids, k.Kid)
		r.aeads[k.Kid] = aead
		if k.Status == StatusPrimary {
			r.primary = k.Kid
		}
	}
	return r, nil
}

// decode parses and checks the file's structure, secrets excepted (newAEAD
// checks those).
func decode(data []byte) (fileSet, error) {
	var set fileSet
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil {
		return fileSet{}, fmt.Errorf("not a data key set: %s", describeJSONError(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fileSet{}, errors.New("not a data key set: data after the JSON object")
	}
	if len(set.Keys) == 0 {
		return fileSet{}, errors.New(`no keys: the file needs {"keys":[...]} with one primary key (authd datakeys generate)`)
	}
	seen := map[string]bool{}
	var primaries []string
	for i, k := range set.Keys {
		if !kidPattern.MatchString(k.Kid) {
			return fileSet{}, fmt.Errorf("key %d: kid %q is not 1 to 64 letters, digits, '.', '_' or '-'", i+1, k.Kid)
		}
		if seen[k.Kid] {
			return fileSet{}, fmt.Errorf("key %d: kid %q appears twice", i+1, k.Kid)
		}
		seen[k.Kid] = true
		switch k.Status {
		case StatusPrimary:
			primaries = append(primaries, k.Kid)
		case StatusDecrypt:
		default:
			return fileSet{}, fmt.Errorf("key %d (kid %q): status must be %q or %q, got %q", i+1, k.Kid, StatusPrimary, StatusDecrypt, k.Status)
		}
	}
	if len(primaries) != 1 {
		return fileSet{}, fmt.Errorf("exactly one key must be %q, found %d %v", StatusPrimary, len(primaries), primaries)
	}
	return set, nil
}

// describeJSONError says where the JSON is wrong without quoting it: a
// syntax error's text may carry a character of a secret.
func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must not be a JSON %s", typ.Field, typ.Value)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated JSON"
	default:
		return err.Error() // unknown field "name": names, never values
	}
}

func newAEAD(secret string) (cipher.AEAD, error) {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		return nil, errors.New("secret is not base64url without padding")
	}
	if len(raw) != KeySize {
		return nil, fmt.Errorf("secret is %d bytes, want %d (AES-256)", len(raw), KeySize)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Primary is the kid of the key that seals.
func (r *Ring) Primary() string { return r.primary }

// Kids are every key's kid, in the file's order.
func (r *Ring) Kids() []string { return slices.Clone(r.kids) }

// Seal encrypts plain under the primary key with AES-256-GCM, binding aad
// (for a factor's secret, the factor's id) so that the result opens only
// with the same aad: a sealed secret copied to another row does not open.
// sealed is the random 12-byte nonce followed by the ciphertext and tag.
func (r *Ring) Seal(plain, aad []byte) (kid string, sealed []byte) {
	aead := r.aeads[r.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	_, _ = rand.Read(nonce) // never fails (crypto/rand)
	return r.primary, aead.Seal(nonce, nonce, plain, aad)
}

// Open decrypts what Seal returned, given the kid stored with it and the
// same aad.
func (r *Ring) Open(kid string, sealed, aad []byte) ([]byte, error) {
	aead, ok := r.aeads[kid]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownKey, kid)
	}
	n := aead.NonceSize()
	if len(sealed) < n+aead.Overhead() {
		return nil, fmt.Errorf("%w (kid %q: %d bytes, too short)", ErrOpen, kid, len(sealed))
	}
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w (kid %q)", ErrOpen, kid)
	}
	return plain, nil
}

// developmentPhrase is public: it is in this source file. Its SHA-256 is the
// development key, which lets `make run` open the TOTP secrets it sealed
// before a restart.
const developmentPhrase = "authd development data key: not secret"

// Development is the fixed, well-known key set authd uses when
// AUTHD_ENV=development and AUTHD_DATA_KEYS_FILE is unset. Its key is not
// secret (it is derived from a phrase in the source); production requires a
// file.
func Development() *Ring {
	key := sha256.Sum256([]byte(developmentPhrase))
	r, err := Parse(fmt.Appendf(nil, `{"keys":[{"kid":%q,"secret":%q,"status":"primary"}]}`,
		DevelopmentKid, base64.RawURLEncoding.EncodeToString(key[:])))
	if err != nil {
		panic(err)
	}
	return r
}

// Generate is a new key set file with one primary key.
func Generate() ([]byte, error) {
	k, err := newKey(nil)
	if err != nil {
		return nil, err
	}
	return encode(fileSet{Keys: []fileKey{k}})
}

// Add is rotation step 1: file with a new primary key; the primary becomes
// decrypt-only. It returns the new file and the new key's kid.
func Add(file []byte) (next []byte, kid string, err error) {
	set, err := decodeValid(file)
	if err != nil {
		return nil, "", err
	}
	k, err := newKey(set.Keys)
	if err != nil {
		return nil, "", err
	}
	for i := range set.Keys {
		set.Keys[i].Status = StatusDecrypt
	}
	set.Keys = append(set.Keys, k)
	next, err = encode(set)
	return next, k.Kid, err
}

// Remove is rotation step 3: file without kid. The primary is refused: it
// seals every new secret.
func Remove(file []byte, kid string) ([]byte, error) {
	set, err := decodeValid(file)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(set.Keys, func(k fileKey) bool { return k.Kid == kid })
	switch {
	case i < 0:
		return nil, fmt.Errorf("no key %q in the file", kid)
	case set.Keys[i].Status == StatusPrimary:
		return nil, fmt.Errorf("%s is the primary key, which seals new secrets: add a new primary first (authd datakeys add)", kid)
	}
	set.Keys = slices.Delete(set.Keys, i, i+1)
	return encode(set)
}

// decodeValid is decode with the secrets checked too, so that an edit never
// writes out a file Parse would refuse.
func decodeValid(file []byte) (fileSet, error) {
	if _, err := Parse(file); err != nil {
		return fileSet{}, err
	}
	return decode(file)
}

func newKey(existing []fileKey) (fileKey, error) {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return fileKey{}, err
	}
	for {
		suffix := make([]byte, 3)
		if _, err := rand.Read(suffix); err != nil {
			return fileKey{}, err
		}
		kid := "dk-" + time.Now().UTC().Format("20060102") + "-" + hex.EncodeToString(suffix)
		if !slices.ContainsFunc(existing, func(k fileKey) bool { return k.Kid == kid }) {
			return fileKey{Kid: kid, Secret: base64.RawURLEncoding.EncodeToString(secret), Status: StatusPrimary}, nil
		}
	}
}

func encode(set fileSet) ([]byte, error) {
	out, err := json.MarshalIndent(set, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
