//go:debug rsa1024min=0

package token

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func generate(t *testing.T, alg string) []byte {
	t.Helper()
	set, err := GenerateSet(alg)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// joinSets concatenates the keys of private JWK sets, first set first.
func joinSets(t *testing.T, sets ...[]byte) []byte {
	t.Helper()
	var all []json.RawMessage
	for _, s := range sets {
		var one struct{ Keys []json.RawMessage }
		if err := json.Unmarshal(s, &one); err != nil {
			t.Fatal(err)
		}
		all = append(all, one.Keys...)
	}
	out, _ := json.Marshal(map[string]any{"keys": all})
	return out
}

func authority(t *testing.T, set []byte, now func() time.Time) *Authority {
	t.Helper()
	keys, err := ParseKeys(set)
	if err != nil {
		t.Fatal(err)
	}
	return NewAuthority(keys, "authd", "authd", 15*time.Minute, 30*time.Second, now)
}

func TestAuthority_EachAlgorithmRoundTrips(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		a := authority(t, generate(t, alg), time.Now)
		want := Claims{UserID: uuid.New(), SessionID: uuid.New(), AMR: []string{"pwd", "otp"}, AuthTime: time.Unix(1796205600, 0), Roles: []string{"admin", "billing"}}
		tok, err := a.Issue(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Verify(tok)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: verify = %+v, %v", alg, got, err)
		}
		header, _, _ := strings.Cut(tok, ".")
		if !strings.Contains(decodeSegment(t, header), `"alg":"`+alg+`"`) || !strings.Contains(decodeSegment(t, header), `"typ":"at+jwt"`) {
			t.Errorf("%s: header %s", alg, decodeSegment(t, header))
		}
	}
}

func TestAuthority_KeyRotationKeepsOldTokensValid(t *testing.T) {
	t.Parallel()
	oldSet, newSet := generate(t, "EdDSA"), generate(t, "ES256")
	before := authority(t, oldSet, time.Now)
	oldTok, _ := before.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})

	after := authority(t, joinSets(t, newSet, oldSet), time.Now)
	if _, err := after.Verify(oldTok); err != nil {
		t.Errorf("token of the retired-but-published key refused: %v", err)
	}
	newTok, _ := after.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if _, err := before.Verify(newTok); err == nil {
		t.Error("the old key set accepted a token signed by the new key")
	}
	var pub struct{ Keys []map[string]any }
	_ = json.Unmarshal(after.keys.PublicJSON(), &pub)
	if len(pub.Keys) != 2 {
		t.Errorf("JWKS has %d keys, want both", len(pub.Keys))
	}
	for _, k := range pub.Keys {
		if _, private := k["d"]; private {
			t.Error("public JWKS holds a private component")
		}
	}
}

func TestAuthority_ClockAndLeeway(t *testing.T) {
	t.Parallel()
	now := time.Now()
	clock := func() time.Time { return now }
	a := authority(t, generate(t, "EdDSA"), clock)
	tok, _ := a.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})

	now = now.Add(15*time.Minute + 29*time.Second)
	if _, err := a.Verify(tok); err != nil {
		t.Errorf("within leeway: %v", err)
	}
	now = now.Add(2 * time.Second)
	if _, err := a.Verify(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("after leeway: %v, want ErrInvalid", err)
	}
}

func TestAuthority_RefusesOtherIssuerAndAudience(t *testing.T) {
	t.Parallel()
	set := generate(t, "EdDSA")
	keys, _ := ParseKeys(set)
	mint := NewAuthority(keys, "someone-else", "authd", time.Minute, 0, time.Now)
	check := NewAuthority(keys, "authd", "authd", time.Minute, 0, time.Now)
	tok, _ := mint.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if _, err := check.Verify(tok); err == nil {
		t.Error("foreign issuer accepted")
	}
	mint = NewAuthority(keys, "authd", "other-app", time.Minute, 0, time.Now)
	tok, _ = mint.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if _, err := check.Verify(tok); err == nil {
		t.Error("foreign audience accepted")
	}
}

func TestParseKeys_RefusesUnsafeSets(t *testing.T) {
	t.Parallel()
	ed := generate(t, "EdDSA")
	var one struct{ Keys []map[string]any }
	_ = json.Unmarshal(ed, &one)
	key := one.Keys[0]
	edit := func(f func(k map[string]any)) []byte {
		k := map[string]any{}
		for n, v := range key {
			k[n] = v
		}
		f(k)
		b, _ := json.Marshal(map[string]any{"keys": []any{k}})
		return b
	}
	otherEC := generate(t, "ES256")
	cases := map[string][]byte{
		"not JSON":        []byte("nope"),
		"no keys":         []byte(`{"keys":[]}`),
		"public key only": edit(func(k map[string]any) { delete(k, "d") }),
		"no kid":          edit(func(k map[string]any) { delete(k, "kid") }),
		"alg mismatch":    edit(func(k map[string]any) { k["alg"] = "RS256" }),
		"duplicate kid":   joinSets(t, ed, ed),
		"symmetric key":   []byte(`{"keys":[{"kty":"oct","kid":"k","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"}]}`),
		// Both would load, then fail every login (X25519 cannot sign) or
		// every request (the public half verifies another key's signatures).
		"X25519 key":                     edit(func(k map[string]any) { k["crv"] = "X25519"; delete(k, "alg") }),
		"Ed25519 with another key's x":   withField(t, ed, "x", generate(t, "EdDSA")),
		"P-256 with another key's x, y":  withField(t, withField(t, generate(t, "ES256"), "x", otherEC), "y", otherEC),
		"RSA with a broken CRT exponent": withField(t, generate(t, "RS256"), "dp", generate(t, "RS256")),
	}
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024) // allowed by the go:debug line above
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	weakRSA.Precompute()
	cases["RSA under 2048 bits"], _ = json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "weak", "n": b64(weakRSA.N), "e": b64(big.NewInt(int64(weakRSA.E))),
		"d": b64(weakRSA.D), "p": b64(weakRSA.Primes[0]), "q": b64(weakRSA.Primes[1]),
		"dp": b64(weakRSA.Precomputed.Dp), "dq": b64(weakRSA.Precomputed.Dq), "qi": b64(weakRSA.Precomputed.Qinv),
	}}})
	for name, set := range cases {
		if _, err := ParseKeys(set); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := ParseKeys(edit(func(k map[string]any) { delete(k, "alg") })); err != nil {
		t.Errorf("missing alg should be inferred from the key type: %v", err)
	}
}

// withField is set with its first key's field name taken from the first key
// of from.
func withField(t *testing.T, set []byte, name string, from []byte) []byte {
	t.Helper()
	var dst, src struct{ Keys []map[string]any }
	if err := errors.Join(json.Unmarshal(set, &dst), json.Unmarshal(from, &src)); err != nil {
		t.Fatal(err)
	}
	dst.Keys[0][name] = src.Keys[0][name]
	b, _ := json.Marshal(dst)
	return b
}

func TestRefresh_TokensAreRandomAndHashed(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 100 {
		tok := NewOpaque()
		if len(tok) != 43 || strings.ContainsAny(tok, "+/=") {
			t.Fatalf("token %q is not 32 bytes of base64url", tok)
		}
		if seen[tok] {
			t.Fatal("repeated token")
		}
		seen[tok] = true
	}
	tok := NewOpaque()
	if string(HashOpaque(tok)) == tok || len(HashOpaque(tok)) != 32 {
		t.Error("hash is not a SHA-256 digest")
	}
}

func TestRefresh_SuccessorOpensOnlyWithPredecessor(t *testing.T) {
	t.Parallel()
	pred, succ := NewOpaque(), NewOpaque()
	sid, tid := uuid.New(), uuid.New()
	sealed := SealSuccessor(pred, succ, sid, tid, "198.51.100.1")
	if strings.Contains(string(sealed), succ) {
		t.Fatal("sealed successor holds the token in clear")
	}
	if got, err := OpenSuccessor(pred, sealed, sid, tid, "198.51.100.1"); err != nil || got != succ {
		t.Errorf("open = %q, %v", got, err)
	}
	if _, err := OpenSuccessor(NewOpaque(), sealed, sid, tid, "198.51.100.1"); err == nil {
		t.Error("another token opened the successor")
	}
	if _, err := OpenSuccessor(string(HashOpaque(pred)), sealed, sid, tid, "198.51.100.1"); err == nil {
		t.Error("the stored hash opened the successor")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := OpenSuccessor(pred, sealed, sid, tid, "198.51.100.1"); err == nil {
		t.Error("tampered ciphertext opened")
	}
}

func TestRefresh_SealedSuccessorOpensOnlyInItsSessionAndRow(t *testing.T) {
	t.Parallel()
	pred, succ := NewOpaque(), NewOpaque()
	sid, tid := uuid.New(), uuid.New()
	sealed := SealSuccessor(pred, succ, sid, tid, "198.51.100.1")
	if _, err := OpenSuccessor(pred, sealed, uuid.New(), tid, "198.51.100.1"); err == nil {
		t.Error("the sealed successor opened in another session")
	}
	if _, err := OpenSuccessor(pred, sealed, sid, uuid.New(), "198.51.100.1"); err == nil {
		t.Error("the sealed successor opened in another row")
	}
	if _, err := OpenSuccessor(pred, sealed, tid, sid, "198.51.100.1"); err == nil {
		t.Error("the sealed successor opened with its session and row swapped")
	}
	if _, err := OpenSuccessor(pred, sealed, sid, tid, "203.0.113.7"); err == nil {
		t.Error("the sealed successor opened for another client")
	}
}

func decodeSegment(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeys_SecretsPerKeyAndLabel(t *testing.T) {
	t.Parallel()
	a, b := generate(t, "EdDSA"), generate(t, "EdDSA")
	ka, _ := ParseKeys(a)
	kab, _ := ParseKeys(joinSets(t, b, a))
	sa, sab := ka.Secrets("mail outbox"), kab.Secrets("mail outbox")
	if len(sa) != 1 || len(sab) != 2 || len(sa[0].Key) != 32 || len(sa[0].Legacy) != 32 {
		t.Fatalf("secrets: %d and %d", len(sa), len(sab))
	}
	if string(sab[1].Key) != string(sa[0].Key) || sab[1].Kid != sa[0].Kid {
		t.Error("the same key derived a different secret in another set")
	}
	if string(sab[0].Key) == string(sa[0].Key) || string(ka.Secrets("other")[0].Key) == string(sa[0].Key) {
		t.Error("secrets collide across keys or labels")
	}
	if string(sa[0].Key) == string(sa[0].Legacy) {
		t.Error("the HKDF secret is the legacy one")
	}
}

func TestKeys_MailSecretIgnoresHowTheKeyFileIsWritten(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		file := generate(t, alg)
		var set map[string][]map[string]any
		if err := json.Unmarshal(file, &set); err != nil {
			t.Fatal(err)
		}
		set["keys"][0]["use"] = "sig"
		rewritten, _ := json.Marshal(set) // other member order and spacing, one more member
		kid := set["keys"][0]["kid"].(string)
		published, newKid, err := AddKey(file, "EdDSA")
		if err != nil {
			t.Fatal(err)
		}
		promoted, _ := PromoteKey(published, newKid)
		retired, _ := RetireKey(promoted, kid) // the key now carries authd_status
		want := mailSecret(t, file, kid)
		for name, f := range map[string][]byte{"rewritten": rewritten, "retired": retired} {
			if got := mailSecret(t, f, kid); string(got) != string(want) {
				t.Errorf("%s: %s: the same key derived another mail secret", alg, name)
			}
		}
	}
}

func mailSecret(t *testing.T, file []byte, kid string) []byte {
	t.Helper()
	keys, err := ParseKeys(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range keys.Secrets("mail outbox") {
		if s.Kid == kid {
			return s.Key
		}
	}
	t.Fatalf("no secret for %s", kid)
	return nil
}

// Tokens say how their session was authenticated: amr, aal, acr and
// auth_time as relying services read them from the payload.
func TestAuthority_AssuranceClaims(t *testing.T) {
	t.Parallel()
	a := authority(t, generate(t, "EdDSA"), time.Now)
	for _, tc := range []struct {
		amr      []string
		aal      float64
		acr      string
		readBack []string
	}{
		{[]string{"pwd"}, 1, "aal1", []string{"pwd"}},
		{[]string{"pwd", "otp"}, 2, "aal2", []string{"pwd", "otp"}},
		{nil, 1, "aal1", []string{"pwd"}}, // no methods reads as the weakest
	} {
		tok, err := a.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New(), AMR: tc.amr, AuthTime: time.Unix(1796205600, 0)})
		if err != nil {
			t.Fatal(err)
		}
		_, payload, _ := strings.Cut(tok, ".")
		payload, _, _ = strings.Cut(payload, ".")
		var claims map[string]any
		if err := json.Unmarshal([]byte(decodeSegment(t, payload)), &claims); err != nil {
			t.Fatal(err)
		}
		if claims["aal"] != tc.aal || claims["acr"] != tc.acr || claims["auth_time"] != float64(1796205600) {
			t.Errorf("amr %v: payload %v", tc.amr, claims)
		}
		got, err := a.Verify(tok)
		if err != nil || !reflect.DeepEqual(got.AMR, tc.readBack) || got.AAL() != int(tc.aal) || !got.AuthTime.Equal(time.Unix(1796205600, 0)) {
			t.Errorf("amr %v: verified %+v, %v", tc.amr, got, err)
		}
	}
}

// Roles travel as a "roles" array that relying services read from the
// payload, and no claim at all for a user without roles.
func TestAuthority_RolesClaim(t *testing.T) {
	t.Parallel()
	a := authority(t, generate(t, "EdDSA"), time.Now)
	for _, roles := range [][]string{{"admin"}, {"admin", "support"}, nil, {}} {
		tok, err := a.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New(), AMR: []string{"pwd"}, AuthTime: time.Unix(1796205600, 0), Roles: roles})
		if err != nil {
			t.Fatal(err)
		}
		_, payload, _ := strings.Cut(tok, ".")
		payload, _, _ = strings.Cut(payload, ".")
		var claims map[string]any
		if err := json.Unmarshal([]byte(decodeSegment(t, payload)), &claims); err != nil {
			t.Fatal(err)
		}
		got, present := claims["roles"]
		if len(roles) == 0 && present {
			t.Errorf("roles %v: the payload has a roles claim %v", roles, got)
		}
		if len(roles) > 0 {
			list, _ := got.([]any)
			if len(list) != len(roles) {
				t.Errorf("roles %v: payload roles %v", roles, got)
			}
			for i, r := range list {
				if r != roles[i] {
					t.Errorf("roles %v: payload roles %v", roles, got)
				}
			}
		}
		verified, err := a.Verify(tok)
		if err != nil || len(verified.Roles) != len(roles) || (len(roles) > 0 && !reflect.DeepEqual(verified.Roles, roles)) {
			t.Errorf("roles %v: verified %+v, %v", roles, verified, err)
		}
	}
}
