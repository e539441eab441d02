package mail

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/token"
)

// Sealer encrypts outbox bodies, which carry live links, so that the
// database (and its backups) never holds a usable token in clear. It seals
// with the signing key's secret and opens with any key's, retired ones
// included, so mail queued before a key rotation is still sent after it.
//
// A sealed body names the kid that sealed it: "sealed:v2:<kid>:<base64 of
// nonce and ciphertext>", the "sealed:v2:<kid>:" part bound as associated
// data. Bodies from before v2 ("sealed:v1:", no kid, a secret derived from
// the key's JSON) are still opened, by trying each key's legacy secret.
type Sealer struct {
	kid    string // seals with
	aeads  map[string]cipher.AEAD
	legacy []legacyKey // in the order of the secrets
}

type legacyKey struct {
	kid  string
	aead cipher.AEAD
}

const (
	sealPrefix   = "sealed:v2:"
	legacyPrefix = "sealed:v1:"
)

// SecretLabel is the label of the keys' secrets (token.Keys.Secrets) that
// seal mail.
const SecretLabel = "mail outbox"

// ErrNoKey is returned when none of the sealer's keys opens a body: a key
// this instance does not hold (yet), or one already removed.
var ErrNoKey = errors.New("mail sealer: no key opens the body")

// NewSealer takes the keys' secrets, the signing key's first.
func NewSealer(secrets []token.Secret) (*Sealer, error) {
	if len(secrets) == 0 {
		return nil, errors.New("mail sealer: no key")
	}
	s := &Sealer{kid: secrets[0].Kid, aeads: map[string]cipher.AEAD{}}
	for _, sec := range secrets {
		current, err1 := newGCM(sec.Key)
		legacy, err2 := newGCM(sec.Legacy)
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		s.aeads[sec.Kid] = current
		s.legacy = append(s.legacy, legacyKey{kid: sec.Kid, aead: legacy})
	}
	return s, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Seal encrypts plain with the signing key's secret.
func (s *Sealer) Seal(plain string) string {
	gcm := s.aeads[s.kid]
	header := sealPrefix + s.kid + ":"
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return header + base64.RawStdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), []byte(header)))
}

// Open decrypts what Seal (or a sealer before v2) made with any of the keys;
// the error wraps ErrNoKey when no key this sealer holds opens it.
func (s *Sealer) Open(sealed string) (string, error) {
	plain, _, err := s.open(sealed)
	return plain, err
}

// SealedWith is the kid of the key that sealed a body: named by a v2 body,
// found by trying each key for an older one. It is "" when no key is found.
func (s *Sealer) SealedWith(sealed string) string {
	if kid, _, ok := splitSealed(sealed); ok {
		return kid
	}
	_, kid, _ := s.open(sealed)
	return kid
}

func (s *Sealer) open(sealed string) (plain, kid string, err error) {
	if kid, raw, ok := splitSealed(sealed); ok {
		gcm, held := s.aeads[kid]
		if !held {
			return "", kid, fmt.Errorf("%w (sealed with key %q, which this instance does not hold)", ErrNoKey, kid)
		}
		header := sealed[:len(sealed)-len(raw)]
		plain, err := openWith(gcm, raw, header)
		if err != nil {
			return "", kid, fmt.Errorf("mail sealer: the body does not open with key %q: %w", kid, err)
		}
		return plain, kid, nil
	}
	raw, ok := strings.CutPrefix(sealed, legacyPrefix)
	if !ok {
		return "", "", errors.New("mail sealer: not a sealed body")
	}
	for _, k := range s.legacy {
		if plain, err := openWith(k.aead, raw, ""); err == nil {
			return plain, k.kid, nil
		}
	}
	return "", "", ErrNoKey
}

// splitSealed takes a v2 body apart; base64 has no ':', so the kid ends at
// the last one.
func splitSealed(sealed string) (kid, raw string, ok bool) {
	rest, ok := strings.CutPrefix(sealed, sealPrefix)
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, ':')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

func openWith(gcm cipher.AEAD, b64, header string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(b64)
	if err != nil {
		return "", err
	}
	if len(raw) < gcm.NonceSize() {
		return "", errors.New("too short")
	}
	plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], []byte(header))
	return string(plain), err
}

// CountSealedWith counts the mail not yet sent (pending, or dead and so
// waiting for a requeue) that was sealed with kid: while there is any, the
// key must stay in the file.
func CountSealedWith(ctx context.Context, q *db.Queries, s *Sealer, kid string) (int, error) {
	bodies, err := q.UnsentMailBodies(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, b := range bodies {
		if b != nil && s.SealedWith(*b) == kid {
			n++
		}
	}
	return n, nil
}
