package main

import (
	"crypto/rand"
	"crypto/rsa"

	jose "github.com/go-jose/go-jose/v4"
)

// rsaKey is an RS256 signing key made at start (op.SigningKey).
type rsaKey struct {
	id  string
	key *rsa.PrivateKey
}

func newRSAKey() (*rsaKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &rsaKey{id: randomID(), key: k}, nil
}

func (k *rsaKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k *rsaKey) Key() any                                    { return k.key }
func (k *rsaKey) ID() string                                  { return k.id }

// publicKey is the JWKS entry of an rsaKey (op.Key).
type publicKey struct{ k *rsaKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return &p.k.key.PublicKey }
