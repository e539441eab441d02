// Package token issues and verifies access tokens (JWT) and makes, hashes and
// seals refresh tokens.
package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Keys holds the signing key (the first of the set) and the public keys that
// verify, by kid. The algorithm of each key is fixed here, never read from a token.
//
// Signing and verifying use the keys exported from their JWKs once, here:
// given a JWK, jwx exports it anew for every token, and for an Ed25519 key
// that export derives the public key, which made signing twice as slow.
type Keys struct {
	signer     any // crypto key
	signerKid  string
	signerAlg  jwa.SignatureAlgorithm
	verifiers  map[string]verifier
	publicJSON []byte
	order      []string           // kids, the signer first
	private    map[string]jwk.Key // for Secrets
}

type verifier struct {
	alg jwa.SignatureAlgorithm
	key any // crypto public key
}

// ParseKeys reads a private JWK set. Every key needs a kid; a missing alg is
// taken from the key type (OKP: EdDSA, EC P-256: ES256, RSA: RS256).
func ParseKeys(data []byte) (*Keys, error) {
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse JWK set: %w", err)
	}
	if set.Len() == 0 {
		return nil, errors.New("JWK set has no keys")
	}
	ks := &Keys{verifiers: map[string]verifier{}, private: map[string]jwk.Key{}}
	public := jwk.NewSet()
	for i := range set.Len() {
		priv, _ := set.Key(i)
		if isPriv, err := jwk.IsPrivateKey(priv); err != nil || !isPriv {
			return nil, fmt.Errorf("key %d is not a private key", i)
		}
		kid, ok := priv.KeyID()
		if !ok || kid == "" {
			return nil, fmt.Errorf("key %d has no kid", i)
		}
		if _, dup := ks.verifiers[kid]; dup {
			return nil, fmt.Errorf("kid %q appears twice", kid)
		}
		alg, err := algorithmOf(priv)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		pub, err := priv.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		for _, f := range [][2]any{{jwk.AlgorithmKey, alg}, {jwk.KeyUsageKey, "sig"}} {
			if err := pub.Set(f[0].(string), f[1]); err != nil {
				return nil, err
			}
		}
		if err := public.AddKey(pub); err != nil {
			return nil, err
		}
		var rawPub, rawPriv any
		if err := errors.Join(jwk.Export(pub, &rawPub), jwk.Export(priv, &rawPriv)); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if err := checkPair(alg, rawPriv, rawPub); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		ks.verifiers[kid] = verifier{alg: alg, key: rawPub}
		ks.order = append(ks.order, kid)
		ks.private[kid] = priv
		if i == 0 {
			ks.signer, ks.signerKid, ks.signerAlg = rawPriv, kid, alg
		}
	}
	if ks.publicJSON, err = json.Marshal(public); err != nil {
		return nil, err
	}
	return ks, nil
}

// PublicJSON is the public JWK set, for /.well-known/jwks.json.
func (k *Keys) PublicJSON() []byte { return k.publicJSON }

// GenerateSet makes a private JWK set holding one new key for alg (EdDSA,
// ES256 or RS256), with a kid made of the date and random characters.
func GenerateSet(alg string) ([]byte, error) {
	var raw any
	var err error
	switch alg {
	case "EdDSA":
		_, raw, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		raw, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		raw, err = rsa.GenerateKey(rand.Reader, 3072)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	key, err := jwk.Import(raw)
	if err != nil {
		return nil, err
	}
	kid := time.Now().UTC().Format("2006-01-02") + "-" + rand.Text()[:8]
	if err := key.Set(jwk.KeyIDKey, kid); err != nil {
		return nil, err
	}
	if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
		return nil, err
	}
	set := jwk.NewSet()
	if err := set.AddKey(key); err != nil {
		return nil, err
	}
	return json.MarshalIndent(set, "", "  ")
}

// checkPair makes sure a key signs and its public half verifies before authd
// serves with it: a key-agreement curve (X25519) or a private part that does
// not match its public one would otherwise fail every login or every request.
// RSA keys get their CRT values checked and precomputed once, here.
func checkPair(alg jwa.SignatureAlgorithm, priv, pub any) error {
	switch k := priv.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey:
	case *rsa.PrivateKey:
		if err := k.Validate(); err != nil {
			return err
		}
		k.Precompute()
	default:
		return fmt.Errorf("%T is not a signing key", priv)
	}
	probe := []byte("authd key check")
	signed, err := jws.Sign(probe, jws.WithKey(alg, priv))
	if err != nil {
		return err
	}
	if _, err := jws.Verify(signed, jws.WithKey(alg, pub)); err != nil {
		return fmt.Errorf("the public key does not verify what the private key signs: %w", err)
	}
	return nil
}

func algorithmOf(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	want := map[string]jwa.SignatureAlgorithm{
		jwa.OKP().String(): jwa.EdDSA(),
		jwa.EC().String():  jwa.ES256(),
		jwa.RSA().String(): jwa.RS256(),
	}[key.KeyType().String()]
	if want == (jwa.SignatureAlgorithm{}) {
		return want, fmt.Errorf("unsupported key type %s", key.KeyType())
	}
	if alg, ok := key.Algorithm(); ok && alg.String() != want.String() {
		return want, fmt.Errorf("alg %s does not fit key type %s (want %s)", alg, key.KeyType(), want)
	}
	if want == jwa.RS256() {
		var n []byte
		if err := key.Get(jwk.RSANKey, &n); err != nil || len(n)*8 < 2048 {
			return want, errors.New("RSA keys must have at least 2048 bits")
		}
	}
	if want == jwa.ES256() {
		var crv jwa.EllipticCurveAlgorithm
		if err := key.Get(jwk.ECDSACrvKey, &crv); err != nil || crv != jwa.P256() {
			return want, errors.New("EC keys must use curve P-256")
		}
	}
	return want, nil
}

// Secrets derives one 32-byte secret per key for label, the signing key's
// first: other data that must stay private can be sealed with the first and
// opened with any, so it survives a key rotation like the tokens do.
func (k *Keys) Secrets(label string) [][]byte {
	out := make([][]byte, 0, len(k.order))
	for _, kid := range k.order {
		raw, _ := json.Marshal(k.private[kid])
		sum := sha256.Sum256(append([]byte("authd secret v1\x00"+label+"\x00"), raw...))
		out = append(out, sum[:])
	}
	return out
}
