package server_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// TestOidcAuthorize_RedirectTargetMustBeOnTheList: anything but an
// allow-listed target, character for character, is a 400 and no redirect
// (an open redirector would hand the code to the attacker's page); so is a
// missing or non-S256 challenge and a link with other parameters.
func TestOidcAuthorize_RedirectTargetMustBeOnTheList(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t)}})
	p := newPKCE()
	b := f.browser()
	for _, target := range []string{
		"https://evil.example/auth/done", fedRedirect + "/", fedRedirect + "?next=x", fedRedirect + "#x", fedRedirect + ".evil.example",
		"https://app.example.com.evil.example/auth/done", "https://APP.example.com/auth/done", "//evil.example", "", "javascript:alert(1)",
	} {
		noRedirect(t, b.Open(authorizeURL(target, p), f.idp.Issuer()), http.StatusBadRequest)
	}
	base := fedPublicURL + "/auth/oidc/corp/authorize?"
	for name, tc := range map[string]struct {
		q      url.Values
		status int // 422: the spec's schema refuses the parameter
	}{
		"no challenge":    {url.Values{"redirect_to": {fedRedirect}, "code_challenge_method": {"S256"}}, http.StatusBadRequest},
		"no method":       {url.Values{"redirect_to": {fedRedirect}, "code_challenge": {p.challenge}}, http.StatusBadRequest},
		"plain":           {url.Values{"redirect_to": {fedRedirect}, "code_challenge": {p.challenge}, "code_challenge_method": {"plain"}}, http.StatusUnprocessableEntity},
		"short challenge": {url.Values{"redirect_to": {fedRedirect}, "code_challenge": {"abc"}, "code_challenge_method": {"S256"}}, http.StatusUnprocessableEntity},
		"link and target": {url.Values{"link": {"x"}, "redirect_to": {fedRedirect}}, http.StatusBadRequest},
		"unknown link":    {url.Values{"link": {"made-up"}}, http.StatusBadRequest},
		"nothing":         {url.Values{}, http.StatusBadRequest},
	} {
		if l := b.Open(base+tc.q.Encode(), f.idp.Issuer()); l.Redirect != nil || l.Status != tc.status {
			t.Errorf("%s: %s, want %d and no redirect", name, l, tc.status)
		}
	}
	if n := f.count("SELECT count(*) FROM oidc_logins"); n != 0 {
		t.Errorf("%d states stored for refused requests", n)
	}
	l := b.Open(fedPublicURL+"/auth/oidc/nope/authorize?"+url.Values{"redirect_to": {fedRedirect}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"}}.Encode(), f.idp.Issuer())
	noRedirect(t, l, http.StatusNotFound)
}

// TestOidcCallback_UnknownOrReplayedStateIsA400: without a live state
// there is no trusted target: 400, no redirect. A state works once.
func TestOidcCallback_UnknownOrReplayedStateIsA400(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	b := f.browser()
	noRedirect(t, b.Open(fedCallback+"?state=made-up&code=x", fedRedirect), http.StatusBadRequest)
	noRedirect(t, b.Open(fedCallback+"?code=x", fedRedirect), http.StatusBadRequest)

	u := f.idpUser(testkit.UniqueEmail(), true)
	callback := f.toCallback(b, authorizeURL(fedRedirect, newPKCE()), u)
	if q := f.back(b, callback); q.Get("code") == "" {
		t.Fatalf("first use of the state: %v", q)
	}
	noRedirect(t, b.Open(callback.String(), fedRedirect), http.StatusBadRequest)

	// A state is the provider's own: another provider's path does not take it.
	other := f.toCallback(b, authorizeURL(fedRedirect, newPKCE()), u)
	moved := *other
	moved.Path = "/auth/oidc/elsewhere/callback"
	noRedirect(t, b.Open(moved.String(), fedRedirect), http.StatusNotFound)
}

// TestOidcCallback_StateOfAnotherBrowser: login CSRF. The attacker starts a
// login in its own browser and gets the victim's browser to its callback
// URL: without the cookie the authorize step set in the attacker's
// browser, the victim gets invalid_state, and the state is spent.
func TestOidcCallback_StateOfAnotherBrowser(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	attacker := f.idpUser(testkit.UniqueEmail(), true)
	ab := f.browser()
	callback := f.toCallback(ab, authorizeURL(fedRedirect, newPKCE()), attacker)

	victim := f.browser()
	victim.Open(authorizeURL(fedRedirect, newPKCE()), f.idp.Issuer()) // a login of its own: a cookie, not the attacker's
	wantError(t, f.back(victim, callback), "invalid_state")
	noRedirect(t, ab.Open(callback.String(), fedRedirect), http.StatusBadRequest)
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", attacker.Email); n != 0 {
		t.Errorf("the forged callback made %d accounts", n)
	}
}

// TestOidcCallback_ProviderErrorsAreCodesNotText: the provider's error and
// its description never reach the browser; access_denied is told apart.
func TestOidcCallback_ProviderErrorsAreCodesNotText(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	b := f.browser()
	if l := b.Open(authorizeURL(fedRedirect, newPKCE()), fedCallback); !l.LoginForm {
		t.Fatalf("no login form: %s", l)
	}
	l := b.Cancel()
	if l.Redirect == nil {
		t.Fatalf("cancel: %s", l)
	}
	wantError(t, f.back(b, l.Redirect), "access_denied")

	b = f.browser()
	start := b.Open(authorizeURL(fedRedirect, newPKCE()), f.idp.Issuer())
	state := start.Redirect.Query().Get("state")
	forged := fedCallback + "?" + url.Values{"state": {state}, "error": {"server_error"}, "error_description": {"<script>alert(1)</script> stack trace at db.go:12"}}.Encode()
	land := b.Open(forged, fedRedirect)
	wantError(t, land.Redirect.Query(), "provider_error")
	if strings.Contains(land.Redirect.String(), "script") || strings.Contains(land.Redirect.String(), "stack") {
		t.Errorf("the provider's text reached the browser: %s", land.Redirect)
	}
}

// TestOidcCallback_IDTokenChecks: an ID token with another nonce (a token
// injected from another login), one that expired, one signed with a key the
// provider does not publish: invalid_id_token, no account.
func TestOidcCallback_IDTokenChecks(t *testing.T) {
	t.Parallel()
	for name, fault := range map[string]testkit.OIDCBehaviour{
		"wrong nonce":     {IDTokenNonce: "a-nonce-of-another-login"},
		"expired":         {IDTokenExpired: true},
		"unpublished key": {SignWithUnpublishedKey: true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFed(t, fedSetup{behaviour: fault})
			u := f.idpUser(testkit.UniqueEmail(), true)
			wantError(t, f.login(f.browser(), u, newPKCE()), "invalid_id_token")
			if n := f.count("SELECT count(*) FROM users WHERE email = $1", u.Email); n != 0 {
				t.Errorf("%d accounts made from a refused ID token", n)
			}
		})
	}
}

// TestOidcCallback_IssuerParameter: RFC 9207 mix-up defence. An iss naming
// another issuer is refused; so is none from a provider that announces it
// always sends one; the right one passes.
func TestOidcCallback_IssuerParameter(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		b    testkit.OIDCBehaviour
		want string
	}{
		"another issuer":       {testkit.OIDCBehaviour{SendIssParameter: true, IssParameterValue: "https://evil.example", AdvertiseIssParameter: true}, "issuer_mismatch"},
		"another, unannounced": {testkit.OIDCBehaviour{SendIssParameter: true, IssParameterValue: "https://evil.example"}, "issuer_mismatch"},
		"announced, missing":   {testkit.OIDCBehaviour{AdvertiseIssParameter: true}, "issuer_mismatch"},
		"announced and right":  {testkit.OIDCBehaviour{SendIssParameter: true, AdvertiseIssParameter: true}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFed(t, fedSetup{behaviour: tc.b})
			q := f.login(f.browser(), f.idpUser(testkit.UniqueEmail(), true), newPKCE())
			if tc.want == "" {
				if q.Get("code") == "" {
					t.Fatalf("a well-behaved provider: %v", q)
				}
				return
			}
			wantError(t, q, tc.want)
		})
	}
}

// TestOidcToken_CodeWorksOnceWithItsVerifierWithinAMinute: a replayed code,
// a wrong verifier (which spends the code too), an expired code, a code of
// a link: all 401 invalid-oidc-code.
func TestOidcToken_CodeWorksOnceWithItsVerifierWithinAMinute(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	invalid := func(what string, code, verifier string) {
		t.Helper()
		r := f.exchange(code, verifier)
		if r.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(r.Body), "invalid-oidc-code") {
			t.Errorf("%s: %d %s, want 401 invalid-oidc-code", what, r.StatusCode(), r.Body)
		}
	}

	p := newPKCE()
	code := f.login(f.browser(), u, p).Get("code")
	if r := f.exchange(code, p.verifier); r.JSON200 == nil {
		t.Fatalf("first exchange: %d %s", r.StatusCode(), r.Body)
	}
	invalid("replayed", code, p.verifier)

	p = newPKCE()
	code = f.login(f.browser(), u, p).Get("code")
	invalid("wrong verifier", code, newPKCE().verifier)
	invalid("right verifier after a wrong one", code, p.verifier)

	p = newPKCE()
	code = f.login(f.browser(), u, p).Get("code")
	f.app.Clock.Advance(61 * time.Second)
	invalid("expired", code, p.verifier)

	invalid("made up", "made-up-code", p.verifier)
}

// TestOidcCallback_ProviderDownAtTheExchange: the provider fails after the
// browser came back: exchange_failed, nothing else.
func TestOidcCallback_ProviderDownAtTheExchange(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	b := f.browser()
	callback := f.toCallback(b, authorizeURL(fedRedirect, newPKCE()), u)
	f.idp.Stop()
	wantError(t, f.back(b, callback), "exchange_failed")
}

// TestFederatedFlow_ConcurrentCallbacksAndExchanges: one state taken by
// several callbacks at once yields exactly one code; one code exchanged
// several times at once yields exactly one token pair.
func TestFederatedFlow_ConcurrentCallbacksAndExchanges(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	b := f.browser()
	p := newPKCE()
	callback := f.toCallback(b, authorizeURL(fedRedirect, p), u)
	var cookie string
	for _, c := range b.Cookies(fedPublicURL + "/auth/oidc/") {
		if c.Name == "authd_oidc" {
			cookie = c.Value
		}
	}
	const racers = 6
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	locations := make(chan string, racers)
	statuses := make(chan int, racers)
	for range racers {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodGet, f.app.URL+callback.Path+"?"+callback.RawQuery, nil)
			req.AddCookie(&http.Cookie{Name: "authd_oidc", Value: cookie}) //nolint:gosec // G124: a cookie sent, not set
			resp, err := noFollow.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
			locations <- resp.Header.Get("Location")
		})
	}
	wg.Wait()
	close(statuses)
	close(locations)
	found, refused := 0, 0
	for s := range statuses {
		switch s {
		case http.StatusFound:
			found++
		case http.StatusBadRequest:
			refused++
		default:
			t.Errorf("a racing callback answered %d", s)
		}
	}
	var code string
	for l := range locations {
		if loc, _ := url.Parse(l); loc != nil && loc.Query().Get("code") != "" {
			code = loc.Query().Get("code")
		}
	}
	if found != 1 || refused != racers-1 || code == "" {
		t.Fatalf("%d redirects (code %q) and %d refusals, want exactly one code", found, code, refused)
	}

	pairs := make(chan int, racers)
	for range racers {
		wg.Go(func() {
			r, err := f.app.Client.OidcTokenWithResponse(context.Background(), client.OidcCodeRequest{Code: code, CodeVerifier: p.verifier})
			if err != nil {
				pairs <- 0
				return
			}
			pairs <- r.StatusCode()
		})
	}
	wg.Wait()
	close(pairs)
	ok := 0
	for s := range pairs {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusUnauthorized:
		default:
			t.Errorf("a racing exchange answered %d", s)
		}
	}
	if ok != 1 {
		t.Errorf("%d token pairs from one code, want exactly 1", ok)
	}
}

// TestOidcAuthorize_StatesAreBoundedPerClient: a flood of authorize calls
// from one client stops at its login budget, so it cannot grow the states
// table beyond it; the states it left expire and are pruned.
func TestOidcAuthorize_StatesAreBoundedPerClient(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{appOptions: []testkit.Option{testkit.IsolatedDatabase(t), func(d *server.Deps) {
		d.Limits.LoginIP = ratelimit.Limit{Rate: 6, Period: time.Minute} // a burst of 3
	}}})
	b := f.browser()
	start := authorizeURL(fedRedirect, newPKCE())
	for i := range 5 {
		l := b.Open(start, f.idp.Issuer())
		if want := i < 3; (l.Redirect != nil) != want || (!want && l.Status != http.StatusTooManyRequests) {
			t.Fatalf("authorize %d: %s", i+1, l)
		}
	}
	if n := f.count("SELECT count(*) FROM oidc_logins"); n != 3 {
		t.Errorf("%d states stored, want 3 (the budget)", n)
	}
	f.app.Clock.Advance(11 * time.Minute)
	if err := f.app.Server.PruneNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := f.count("SELECT count(*) FROM oidc_logins"); n != 0 {
		t.Errorf("%d expired states left after pruning", n)
	}
}
