// Package datakeys is a placeholder of the data-encryption key set API
// (feat/datakeys replaces it): AES-256-GCM under a primary key.
package datakeys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
)

// Ring is a set of data keys; one seals, all open.
type Ring struct {
	primary string
	keys    map[string][]byte
}

// Development is a fixed, well-known key for development only.
func Development() *Ring {
	k := sha256.Sum256([]byte("authd development data key: not secret"))
	return &Ring{primary: "development", keys: map[string][]byte{"development": k[:]}}
}

// Primary is the kid that seals.
func (r *Ring) Primary() string { return r.primary }

// Seal encrypts plain under the primary key, bound to aad.
func (r *Ring) Seal(plain, aad []byte) (string, []byte) {
	gcm := newGCM(r.keys[r.primary])
	nonce := make([]byte, gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return r.primary, gcm.Seal(nonce, nonce, plain, aad)
}

// Open decrypts what Seal returned.
func (r *Ring) Open(kid string, sealed, aad []byte) ([]byte, error) {
	key, ok := r.keys[kid]
	if !ok {
		return nil, errors.New("unknown data key " + kid)
	}
	gcm := newGCM(key)
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed data too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], aad)
}

func newGCM(key []byte) cipher.AEAD {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return gcm
}
