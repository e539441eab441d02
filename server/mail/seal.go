package mail

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
)

// Sealer encrypts outbox bodies, which carry live links, so that the
// database (and its backups) never holds a usable token in clear. It seals
// with the first key and opens with any, so mail queued before a key
// rotation is still sent after it.
type Sealer struct{ aeads []cipher.AEAD }

const sealPrefix = "sealed:v1:"

// NewSealer takes 32-byte keys, the current one first.
func NewSealer(keys [][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("mail sealer: no key")
	}
	s := &Sealer{}
	for _, k := range keys {
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		gcm, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads = append(s.aeads, gcm)
	}
	return s, nil
}

// Seal encrypts plain with the current key.
func (s *Sealer) Seal(plain string) string {
	gcm := s.aeads[0]
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return sealPrefix + base64.RawStdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(plain), nil))
}

// Open decrypts what Seal made with any of the keys.
func (s *Sealer) Open(sealed string) (string, error) {
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || !strings.HasPrefix(sealed, sealPrefix) {
		return "", errors.New("mail sealer: not a sealed body")
	}
	for _, gcm := range s.aeads {
		if len(raw) < gcm.NonceSize() {
			break
		}
		if plain, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil); err == nil {
			return string(plain), nil
		}
	}
	return "", errors.New("mail sealer: no key opens the body")
}
