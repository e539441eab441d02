package token

import (
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"
)

// FuzzVerify: nothing panics, and whatever verifies carries exactly the
// claims of the token this authority issued. (Base64url has spare bits, so a
// signature can have more than one spelling; that gains an attacker nothing,
// since the signed bytes and claims are the same.) The seed is a real token,
// so the fuzzer mutates a valid one.
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
	want := Claims{UserID: uuid.New(), SessionID: uuid.New(), AMR: []string{"pwd"}, AuthTime: time.Unix(1796205600, 0), Roles: []string{"admin"}}
	valid, err := a.Issue(want)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Fuzz(func(t *testing.T, raw string) {
		if got, err := a.Verify(raw); err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("a forged token verified with claims %+v: %q", got, raw)
		}
	})
}
