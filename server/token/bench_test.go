package token

import (
	"testing"
	"time"

	"github.com/google/uuid"
)

func benchAuthority(b *testing.B, alg string) *Authority {
	set, err := GenerateSet(alg)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := ParseKeys(set)
	if err != nil {
		b.Fatal(err)
	}
	return NewAuthority(keys, "authd", "authd", 15*time.Minute, 30*time.Second, time.Now)
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			a := benchAuthority(b, alg)
			c := Claims{UserID: uuid.New(), SessionID: uuid.New()}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Issue(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			a := benchAuthority(b, alg)
			tok, _ := a.Issue(Claims{UserID: uuid.New(), SessionID: uuid.New()})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
