package token

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzVerify: no input but a token this authority issued verifies, and
// none panics. The seed is a real token, so the fuzzer mutates a valid one.
func FuzzVerify(f *testing.F) {
	set, err := GenerateSet("EdDSA")
	if err != nil {
		f.Fatal(err)
	}
	keys, err := ParseKeys(set)
	if err != nil {
		f.Fatal(err)
	}
	a := NewAuthority(keys, "authd", "authd", 15*time.Minute, 30*time.Second, time.Now)
	valid, err := a.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, raw string) {
		if _, err := a.Verify(raw); err == nil && raw != valid {
			t.Fatalf("a token this authority did not issue verified: %q", raw)
		}
	})
}
