package datakeys_test

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/server/datakeys"
)

func mustRing(t *testing.T, file []byte) *datakeys.Ring {
	t.Helper()
	r, err := datakeys.Parse(file)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func generated(t *testing.T) []byte {
	t.Helper()
	file, err := datakeys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return file
}

func TestSealOpen_RoundTripUnderThePrimary(t *testing.T) {
	t.Parallel()
	r := mustRing(t, generated(t))
	aad := []byte("factor-0001")
	kid, sealed := r.Seal([]byte("JBSWY3DPEHPK3PXP"), aad)
	if kid != r.Primary() || !slices.Equal(r.Kids(), []string{kid}) {
		t.Fatalf("sealed under %q, primary %q, kids %v", kid, r.Primary(), r.Kids())
	}
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("the plaintext is visible in the sealed bytes")
	}
	plain, err := r.Open(kid, sealed, aad)
	if err != nil || string(plain) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	_, again := r.Seal([]byte("JBSWY3DPEHPK3PXP"), aad)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one secret are equal: the nonce is not random")
	}
}

func TestOpen_RefusesTamperedMovedTruncatedAndUnknown(t *testing.T) {
	t.Parallel()
	r := mustRing(t, generated(t))
	aad := []byte("row-a")
	kid, sealed := r.Seal([]byte("secret"), aad)
	flip := func(i int) []byte {
		b := bytes.Clone(sealed)
		b[i] ^= 1
		return b
	}
	cases := []struct {
		name   string
		kid    string
		sealed []byte
		aad    []byte
		want   error
	}{
		{"nonce flipped", kid, flip(0), aad, datakeys.ErrOpen},
		{"ciphertext flipped", kid, flip(12), aad, datakeys.ErrOpen},
		{"tag flipped", kid, flip(len(sealed) - 1), aad, datakeys.ErrOpen},
		{"moved to another row", kid, sealed, []byte("row-b"), datakeys.ErrOpen},
		{"no aad", kid, sealed, nil, datakeys.ErrOpen},
		{"truncated by one", kid, sealed[:len(sealed)-1], aad, datakeys.ErrOpen},
		{"nonce only", kid, sealed[:12], aad, datakeys.ErrOpen},
		{"empty", kid, nil, aad, datakeys.ErrOpen},
		{"unknown kid", "dk-20990101-000000", sealed, aad, datakeys.ErrUnknownKey},
		{"another ring's primary", mustRing(t, generated(t)).Primary(), sealed, aad, datakeys.ErrUnknownKey},
	}
	for _, tc := range cases {
		plain, err := r.Open(tc.kid, tc.sealed, tc.aad)
		if !errors.Is(err, tc.want) || plain != nil {
			t.Errorf("%s: Open = %q, %v; want %v", tc.name, plain, err, tc.want)
		}
	}
	// Same kid, other secret: a file whose key was replaced opens nothing.
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	other := generated(t)
	if err := json.Unmarshal(other, &set); err != nil {
		t.Fatal(err)
	}
	set.Keys[0]["kid"] = kid
	swapped, _ := json.Marshal(set)
	if _, err := mustRing(t, swapped).Open(kid, sealed, aad); !errors.Is(err, datakeys.ErrOpen) {
		t.Errorf("another secret under the same kid: err = %v", err)
	}
}

func TestAddRemove_RotateWithoutLosingOldSecrets(t *testing.T) {
	t.Parallel()
	file := generated(t)
	old := mustRing(t, file)
	oldKid, sealed := old.Seal([]byte("old"), []byte("id"))

	next, kid, err := datakeys.Add(file)
	if err != nil {
		t.Fatal(err)
	}
	r := mustRing(t, next)
	if r.Primary() != kid || kid == oldKid || !slices.Equal(r.Kids(), []string{oldKid, kid}) {
		t.Fatalf("after Add: primary %q (added %q), kids %v", r.Primary(), kid, r.Kids())
	}
	if plain, err := r.Open(oldKid, sealed, []byte("id")); err != nil || string(plain) != "old" {
		t.Fatalf("the demoted key no longer opens: %q, %v", plain, err)
	}
	if k, _ := r.Seal([]byte("new"), nil); k != kid {
		t.Fatalf("sealed under %q, want the new primary %q", k, kid)
	}

	if _, err := datakeys.Remove(next, kid); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("removing the primary: err = %v", err)
	}
	if _, err := datakeys.Remove(next, "nope"); err == nil {
		t.Fatal("removing an unknown kid succeeded")
	}
	after, err := datakeys.Remove(next, oldKid)
	if err != nil {
		t.Fatal(err)
	}
	r = mustRing(t, after)
	if !slices.Equal(r.Kids(), []string{kid}) {
		t.Fatalf("after Remove: kids %v", r.Kids())
	}
	if _, err := r.Open(oldKid, sealed, []byte("id")); !errors.Is(err, datakeys.ErrUnknownKey) {
		t.Fatalf("removed key still opens: %v", err)
	}
}

func TestParse_RefusesMalformedFilesWithoutShowingSecrets(t *testing.T) {
	t.Parallel()
	secret := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xff, 0xa7}, 16)) // has _ where base64 has /
	short := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xa7}, 16))
	long := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xa7}, 33))
	padded := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xa7}, 32))
	std := strings.NewReplacer("-", "+", "_", "/").Replace(secret)
	key := func(kid, secret, status string) string {
		return fmt.Sprintf(`{"kid":%q,"secret":%q,"status":%q}`, kid, secret, status)
	}
	set := func(keys ...string) string { return `{"keys":[` + strings.Join(keys, ",") + `]}` }
	cases := []struct{ name, file, want string }{
		{"empty", ``, "truncated"},
		{"not JSON", `keys`, "invalid JSON"},
		{"truncated", set(key("a", secret, "primary"))[:40], "truncated"},
		{"trailing data", set(key("a", secret, "primary")) + `{}`, "data after"},
		{"no keys", `{"keys":[]}`, "no keys"},
		{"unknown top field", `{"keys":[` + key("a", secret, "primary") + `],"extra":1}`, `unknown field "extra"`},
		{"unknown key field", `{"keys":[{"kid":"a","secret":"` + secret + `","status":"primary","alg":"A256GCM"}]}`, `unknown field "alg"`},
		{"secret not a string", `{"keys":[{"kid":"a","secret":12,"status":"primary"}]}`, "secret"},
		{"no primary", set(key("a", secret, "decrypt")), "exactly one"},
		{"two primaries", set(key("a", secret, "primary"), key("b", secret, "primary")), "exactly one"},
		{"duplicate kid", set(key("a", secret, "primary"), key("a", secret, "decrypt")), "twice"},
		{"empty kid", set(key("", secret, "primary")), "kid"},
		{"kid with spaces", set(key("a b", secret, "primary")), "kid"},
		{"unknown status", set(key("a", secret, "active")), "status"},
		{"short secret", set(key("a", short, "primary")), "16 bytes"},
		{"long secret", set(key("a", long, "primary")), "33 bytes"},
		{"padded secret", set(key("a", padded, "primary")), "base64url"},
		{"standard base64", set(key("a", std, "primary")), "base64url"},
		{"no secret", set(`{"kid":"a","status":"primary"}`), "0 bytes"},
	}
	for _, tc := range cases {
		_, err := datakeys.Parse([]byte(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
			continue
		}
		for _, s := range []string{secret, short, long, padded, std, secret[:8], short[:8]} {
			if strings.Contains(err.Error(), s) {
				t.Errorf("%s: the message shows a secret: %v", tc.name, err)
			}
		}
	}
	// Edits refuse what Parse refuses, rather than write it out again.
	bad := []byte(set(key("a", short, "primary"), key("b", secret, "decrypt")))
	if _, _, err := datakeys.Add(bad); err == nil {
		t.Error("Add accepted a malformed file")
	}
	if _, err := datakeys.Remove(bad, "b"); err == nil {
		t.Error("Remove accepted a malformed file")
	}
}

func TestDevelopment_IsFixedAcrossRestarts(t *testing.T) {
	t.Parallel()
	a, b := datakeys.Development(), datakeys.Development()
	if a.Primary() != datakeys.DevelopmentKid {
		t.Fatalf("primary %q", a.Primary())
	}
	kid, sealed := a.Seal([]byte("totp"), []byte("id"))
	if plain, err := b.Open(kid, sealed, []byte("id")); err != nil || string(plain) != "totp" {
		t.Fatalf("a second Development ring cannot open the first's: %q, %v", plain, err)
	}
}

func TestGenerate_WritesOneFreshPrimary(t *testing.T) {
	t.Parallel()
	a, b := mustRing(t, generated(t)), mustRing(t, generated(t))
	if a.Primary() == b.Primary() || !strings.HasPrefix(a.Primary(), "dk-") || len(a.Kids()) != 1 {
		t.Fatalf("generated kids %v and %v", a.Kids(), b.Kids())
	}
	kid, sealed := a.Seal([]byte("x"), nil)
	if _, err := b.Open(kid, sealed, nil); err == nil {
		t.Fatal("another generated ring opens this one's secret")
	}
}

// TestDevelopment_KeyIsPinned: changing the development key would make every
// TOTP secret in a development database unreadable; it is the SHA-256 of a
// public phrase.
func TestDevelopment_KeyIsPinned(t *testing.T) {
	t.Parallel()
	key := sha256.Sum256([]byte("authd development data key: not secret"))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		t.Fatal(err)
	}
	sealed := gcm.Seal(nonce, nonce, []byte("totp"), []byte("id"))
	if plain, err := datakeys.Development().Open("development", sealed, []byte("id")); err != nil || string(plain) != "totp" {
		t.Fatalf("the development key changed: %q, %v", plain, err)
	}
}
