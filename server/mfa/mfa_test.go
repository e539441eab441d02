package mfa_test

import (
	"encoding/base64"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/server/mfa"
)

func TestNewTOTP_ImportableByAnApp(t *testing.T) {
	e, err := mfa.NewTOTP("authd", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil || u.Scheme != "otpauth" || u.Host != "totp" {
		t.Fatalf("uri %q: %v", e.URI, err)
	}
	q := u.Query()
	if q.Get("secret") != e.Secret || q.Get("issuer") != "authd" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("algorithm") != "SHA1" {
		t.Errorf("uri parameters %v", q)
	}
	if u.Path != "/authd:ada@example.com" {
		t.Errorf("label %q", u.Path)
	}
	if len(e.Secret) != 32 { // 20 bytes in base32
		t.Errorf("secret %q is not 160 bits", e.Secret)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e.QRCode, "data:image/png;base64,"))
	if err != nil || !strings.HasPrefix(e.QRCode, "data:image/png;base64,") || string(png[1:4]) != "PNG" {
		t.Errorf("qr code is not a PNG data URI: %.40q", e.QRCode)
	}
	other, _ := mfa.NewTOTP("authd", "ada@example.com")
	if other.Secret == e.Secret {
		t.Error("two enrolments got the same secret")
	}
}

func TestMatchStep_OneStepOfSkewEachWay(t *testing.T) {
	e, _ := mfa.NewTOTP("authd", "a@example.com")
	now := time.Date(2026, 12, 2, 10, 0, 15, 0, time.UTC)
	for _, tc := range []struct {
		offset time.Duration
		ok     bool
	}{{-60 * time.Second, false}, {-30 * time.Second, true}, {0, true}, {30 * time.Second, true}, {60 * time.Second, false}} {
		code, err := mfa.Code(e.Secret, now.Add(tc.offset))
		if err != nil {
			t.Fatal(err)
		}
		step, ok := mfa.MatchStep(e.Secret, code, now)
		if ok != tc.ok {
			t.Errorf("code of %v from now: accepted %v, want %v", tc.offset, ok, tc.ok)
		}
		if ok && step != mfa.Step(now.Add(tc.offset)) {
			t.Errorf("code of %v from now matched step %d, want %d", tc.offset, step, mfa.Step(now.Add(tc.offset)))
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := mfa.MatchStep(e.Secret, bad, now); ok {
			t.Errorf("code %q accepted", bad)
		}
	}
}

func TestRecoveryCodes(t *testing.T) {
	codes := mfa.NewRecoveryCodes()
	if len(codes) != 10 {
		t.Fatalf("%d codes", len(codes))
	}
	shape := regexp.MustCompile(`^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$`)
	seen := map[string]bool{}
	for _, c := range codes {
		if !shape.MatchString(c) || seen[c] {
			t.Errorf("code %q malformed or repeated", c)
		}
		seen[c] = true
	}
	user, other := uuid.New(), uuid.New()
	h := mfa.HashRecoveryCode(user, codes[0])
	loose := strings.ToLower(strings.ReplaceAll(codes[0], "-", " "))
	if string(mfa.HashRecoveryCode(user, loose)) != string(h) {
		t.Error("case, spaces and dashes change the hash")
	}
	if string(mfa.HashRecoveryCode(other, codes[0])) == string(h) {
		t.Error("the hash is not bound to the user")
	}
}
