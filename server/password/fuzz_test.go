package password

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzPolicy: the policy never panics, and whatever it accepts under the
// default rules has every character class and is not on the blocklist.
func FuzzPolicy(f *testing.F) {
	f.Fuzz(func(t *testing.T, pw, email string) {
		got := Policy{Name: PolicyDefault}.Violations(pw, email)
		_ = Policy{Name: PolicyNIST}.Violations(pw, email)
		if len(got) > 0 {
			return
		}
		if !strings.ContainsFunc(pw, unicode.IsUpper) || !strings.ContainsFunc(pw, unicode.IsLower) || !strings.ContainsFunc(pw, unicode.IsDigit) {
			t.Fatalf("accepted %q without every character class", pw)
		}
		if blocklist[strings.ToLower(pw)] {
			t.Fatalf("accepted the common password %q", pw)
		}
	})
}

// FuzzVerifyStoredHash: a stored hash of any shape is refused or checked,
// without a panic; a match needs one of the formats this package writes; and
// parameters beyond the bounds are refused before any work (the seeds
// include m=4 TiB, which would otherwise exhaust memory).
func FuzzVerifyStoredHash(f *testing.F) {
	h, err := NewHasher(fastArgon)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, encoded string) {
		ok, _, _ := h.verify("not-the-password", encoded)
		if ok && !strings.HasPrefix(encoded, argonPrefix) && !strings.HasPrefix(encoded, bcryptSHA256Prefix) && !strings.HasPrefix(encoded, "$2") {
			t.Fatalf("%q matched without being a hash", encoded)
		}
	})
}
