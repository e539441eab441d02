package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/gen/db"
)

// TestRedirectAllowed_IsExact: a target is allowed only as configured,
// character for character; every near miss an attacker would try is not.
func TestRedirectAllowed_IsExact(t *testing.T) {
	t.Parallel()
	s := &Server{oidc: OIDCOptions{RedirectURLs: []string{"https://app.example.com/auth/done", "http://localhost:3000/cb?from=login"}}}
	for _, ok := range []string{"https://app.example.com/auth/done", "http://localhost:3000/cb?from=login"} {
		if !s.redirectAllowed(ok) {
			t.Errorf("%s refused", ok)
		}
	}
	for _, bad := range []string{
		"https://app.example.com/auth/done/", "https://app.example.com/auth/done?x=1", "https://app.example.com/auth/done#x",
		"https://app.example.com/auth/doneX", "https://app.example.com/auth/Done", "HTTPS://app.example.com/auth/done",
		"https://APP.example.com/auth/done", "https://app.example.com:443/auth/done", "https://app.example.com.evil.com/auth/done",
		"https://evil.com/https://app.example.com/auth/done", "https://app.example.com@evil.com/auth/done",
		"https://app.example.com/auth/%64one", "//app.example.com/auth/done", " https://app.example.com/auth/done",
		"http://app.example.com/auth/done", "http://localhost:3000/cb", "",
	} {
		if s.redirectAllowed(bad) {
			t.Errorf("%q allowed", bad)
		}
	}
}

// TestPKCE_S256: RFC 7636's example pair matches, anything else does not.
func TestPKCE_S256(t *testing.T) {
	t.Parallel()
	verifier, challenge := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if !pkceMatches(verifier, challenge) {
		t.Error("RFC 7636 appendix B does not match")
	}
	for _, bad := range []string{verifier + "x", strings.ToUpper(verifier), challenge, ""} {
		if pkceMatches(bad, challenge) {
			t.Errorf("verifier %q proves the challenge", bad)
		}
	}
	if pkceMatches(verifier, "") || pkceMatches(verifier, challenge+"=") {
		t.Error("a verifier proves a challenge that is not its own")
	}
}

// TestWithParams_AddsToTheTargetsQuery: the target's own query is kept and
// the flow's parameters are encoded, never spliced in as text.
func TestWithParams_AddsToTheTargetsQuery(t *testing.T) {
	t.Parallel()
	got := withParams("http://localhost:3000/cb?from=login", url.Values{"code": {"a&b=c"}})
	u, err := url.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("from") != "login" || q.Get("code") != "a&b=c" || len(q) != 2 || u.Host != "localhost:3000" || u.Path != "/cb" {
		t.Errorf("withParams = %s", got)
	}
}

// TestOidcCookie_Attributes: HttpOnly, Lax (the provider comes back with a
// top-level GET), scoped to the flow's paths, Secure behind https; removal
// is Max-Age=0.
func TestOidcCookie_Attributes(t *testing.T) {
	t.Parallel()
	for _, public := range []string{"https://auth.example.com", "http://localhost:8080"} {
		s := &Server{mail: MailOptions{PublicURL: public}}
		set := s.oidcCookie("v4lue", 600)
		c, err := http.ParseSetCookie(set)
		if err != nil {
			t.Fatal(err)
		}
		if c.Name != oidcCookieName || c.Value != "v4lue" || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/auth/oidc/" ||
			c.MaxAge != 600 || c.Secure != strings.HasPrefix(public, "https://") {
			t.Errorf("behind %s: Set-Cookie %s", public, set)
		}
		if gone := s.oidcCookie("", 0); !strings.Contains(gone, "Max-Age=0") || !strings.Contains(gone, "Path=/auth/oidc/") {
			t.Errorf("removal: %s", gone)
		}
	}
}

// TestSecondStepAMR: the session of a second step carries the first
// step's methods as the challenge remembers them, then its own; a passkey
// second step after a provider's login is [fed hwk].
func TestSecondStepAMR(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		first  []string
		method string
		want   string
	}{
		{[]string{"fed"}, "otp", "fed otp"},
		{[]string{"fed"}, "hwk", "fed hwk"},
		{[]string{"pwd"}, "swk", "pwd swk"},
		{nil, "otp", "pwd otp"}, // a challenge from before the column
	} {
		ch := db.MfaChallenge{Amr: tc.first}
		if got := strings.Join(secondStepAMR(ch, tc.method), " "); got != tc.want {
			t.Errorf("first %v then %s: %s, want %s", tc.first, tc.method, got, tc.want)
		}
		if len(tc.first) > 0 && len(ch.Amr) != len(tc.first) {
			t.Errorf("the challenge's amr was changed: %v", ch.Amr)
		}
	}
}
