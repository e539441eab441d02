// Package token issues and verifies access tokens (JWT) and makes, hashes and
// seals refresh tokens.
package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// Keys holds the signing key, the public keys that verify, by kid, and every
// key that may still open sealed data. The algorithm of each key is fixed
// here, never read from a token.
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
	list       []KeyInfo          // in file order, for start-up logs and `authd keys list`
	order      []string           // kids for Secrets, the signer first
	private    map[string]jwk.Key // for Secrets
	raw        map[string]any     // crypto private keys, for Secrets
}

type verifier struct {
	alg jwa.SignatureAlgorithm
	key any // crypto public key
}

// StatusMember is the JWK member of the key file that says what a key may
// do; a key without it is active. It is authd's own and never published.
const StatusMember = "authd_status"

// The states a key can be in (see README "Keys and rotation").
const (
	StatusSigning    = "signing"     // the first active key: signs, verifies, seals mail
	StatusActive     = "active"      // another key without a status: verifies, opens mail
	StatusVerifyOnly = "verify-only" // published and verifies, opens mail, never signs (rotation step 1)
	StatusRetired    = "retired"     // not published, verifies nothing, only opens mail sealed with it
)

// KeyInfo describes one key of the file.
type KeyInfo struct {
	Kid    string `json:"kid"`
	Alg    string `json:"alg"`
	Status string `json:"status"`
}

// ParseKeys reads a private JWK set. Every key needs a kid; a missing alg is
// taken from the key type (OKP: EdDSA, EC P-256: ES256, RSA: RS256). The
// first active key signs; see StatusMember for the others.
func ParseKeys(data []byte) (*Keys, error) {
	set, err := jwk.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("parse JWK set: %w", err)
	}
	if set.Len() == 0 {
		return nil, errors.New("JWK set has no keys")
	}
	ks := &Keys{verifiers: map[string]verifier{}, private: map[string]jwk.Key{}, raw: map[string]any{}}
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
		if _, dup := ks.private[kid]; dup {
			return nil, fmt.Errorf("kid %q appears twice", kid)
		}
		status, err := takeStatus(priv)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
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
		var rawPub, rawPriv any
		if err := errors.Join(jwk.Export(pub, &rawPub), jwk.Export(priv, &rawPriv)); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if err := checkPair(alg, rawPriv, rawPub); err != nil {
			return nil, fmt.Errorf("key %q: %w", kid, err)
		}
		if status == StatusActive && ks.signer == nil {
			status = StatusSigning
			ks.signer, ks.signerKid, ks.signerAlg = rawPriv, kid, alg
			ks.order = append([]string{kid}, ks.order...)
		} else {
			ks.order = append(ks.order, kid)
		}
		if status != StatusRetired {
			if err := public.AddKey(pub); err != nil {
				return nil, err
			}
			ks.verifiers[kid] = verifier{alg: alg, key: rawPub}
		}
		ks.list = append(ks.list, KeyInfo{Kid: kid, Alg: alg.String(), Status: status})
		ks.private[kid], ks.raw[kid] = priv, rawPriv
	}
	if ks.signer == nil {
		return nil, fmt.Errorf("JWK set has no active key to sign with (every key has %s)", StatusMember)
	}
	if ks.publicJSON, err = json.Marshal(public); err != nil {
		return nil, err
	}
	return ks, nil
}

// takeStatus reads a key's StatusMember and removes it from the key, so that
// neither the published key nor the legacy mail secret ever holds it.
func takeStatus(priv jwk.Key) (string, error) {
	if !priv.Has(StatusMember) {
		return StatusActive, nil
	}
	var status string
	if err := priv.Get(StatusMember, &status); err != nil {
		return "", fmt.Errorf("%s: %w", StatusMember, err)
	}
	if status != StatusVerifyOnly && status != StatusRetired {
		return "", fmt.Errorf("%s %q: want %q or %q (or no %s for an active key)", StatusMember, status, StatusVerifyOnly, StatusRetired, StatusMember)
	}
	return status, priv.Remove(StatusMember)
}

// Signer is the kid of the key that signs.
func (k *Keys) Signer() string { return k.signerKid }

// List describes every key, in file order.
func (k *Keys) List() []KeyInfo { return slices.Clone(k.list) }

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
		return nil, fmt.Errorf("unsupported algorithm %q (use EdDSA, ES256 or RS256)", alg)
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

// Secret is what one key gives for sealing data at rest.
type Secret struct {
	Kid string
	Key []byte // HKDF-SHA256 over the raw private key: unchanged by how the key file is written
	// Legacy is the derivation before that (SHA-256 over the key's JSON),
	// kept only to open what it sealed before the upgrade.
	Legacy []byte
}

// Secrets derives one 32-byte secret per key for label, the signing key's
// first, then the others, retired ones included: other data that must stay
// private can be sealed with the first and opened with any, so it survives
// a key rotation like the tokens do.
func (k *Keys) Secrets(label string) []Secret {
	out := make([]Secret, 0, len(k.order))
	for _, kid := range k.order {
		raw, _ := json.Marshal(k.private[kid])
		legacy := sha256.Sum256(append([]byte("authd secret v1\x00"+label+"\x00"), raw...))
		key, err := hkdf.Key(sha256.New, rawBytes(k.raw[kid]), nil, "authd secret v2\x00"+label, 32)
		if err != nil {
			panic(err) // only for a length SHA-256 cannot give
		}
		out = append(out, Secret{Kid: kid, Key: key, Legacy: legacy[:]})
	}
	return out
}

// rawBytes is the secret part of a private key as bytes: the Ed25519 seed,
// the ECDSA scalar, the RSA private exponent.
func rawBytes(priv any) []byte {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return k.Seed()
	case *ecdsa.PrivateKey:
		b, _ := k.Bytes() // a P-256 key checkPair accepted always encodes
		return b
	case *rsa.PrivateKey:
		return k.D.Bytes()
	}
	panic(fmt.Sprintf("token: no raw bytes for %T", priv)) // checkPair admits no other type
}
