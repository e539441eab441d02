package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// startLink is POST /users/me/identities/{provider} with access.
func (f *fed) startLink(access, provider string, body client.StartIdentityLinkRequest) *client.StartIdentityLinkResponse {
	f.t.Helper()
	return testkit.Must(f.app.Client.StartIdentityLinkWithResponse(context.Background(), provider, body, testkit.Bearer(access)))(f.t)
}

// linkBody starts a link back to fedRedirect with p, and password if set.
func linkBody(p pkce, password string) client.StartIdentityLinkRequest {
	b := client.StartIdentityLinkRequest{RedirectTo: fedRedirect, CodeChallenge: p.challenge, CodeChallengeMethod: client.StartIdentityLinkRequestCodeChallengeMethodS256}
	if password != "" {
		b.CurrentPassword = &password
	}
	return b
}

// completeLink is POST /users/me/identities with access.
func (f *fed) completeLink(access, code, verifier string) *client.CompleteIdentityLinkResponse {
	f.t.Helper()
	return testkit.Must(f.app.Client.CompleteIdentityLinkWithResponse(context.Background(), client.OidcCodeRequest{Code: code, CodeVerifier: verifier}, testkit.Bearer(access)))(f.t)
}

// linkFlow starts a link for access, logs in at the provider as u in a
// fresh browser and returns what the application receives at redirect_to.
func (f *fed) linkFlow(access string, u testkit.OIDCUser, p pkce) map[string][]string {
	f.t.Helper()
	start := f.startLink(access, fedProvider, linkBody(p, testkit.Password))
	if start.JSON200 == nil {
		f.t.Fatalf("start link: %d %s", start.StatusCode(), start.Body)
	}
	if !strings.HasPrefix(start.JSON200.AuthorizeUrl, fedPublicURL+"/auth/oidc/corp/authorize?link=") {
		f.t.Fatalf("authorize_url %s", start.JSON200.AuthorizeUrl)
	}
	b := f.browser()
	return b.LoginFlow(f.t, start.JSON200.AuthorizeUrl, fedRedirect, u.Username, u.Password).Query()
}

// TestIdentityLink_EndToEnd: a logged-in account links an identity of any
// address through the browser and completes it from the session that
// started it; the identity then logs in to that account.
func TestIdentityLink_EndToEnd(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, pair := f.passwordAccount(false)
	u := f.idpUser(testkit.UniqueEmail(), false) // another address, unverified: a link proves the account, not the address

	p := newPKCE()
	q := f.linkFlow(pair.AccessToken, u, p)
	if q["linked"][0] != "1" || q["code"][0] == "" || len(q) != 2 {
		t.Fatalf("redirect_to got %v, want linked=1 and a code", q)
	}
	done := f.completeLink(pair.AccessToken, q["code"][0], p.verifier)
	if done.JSON201 == nil {
		t.Fatalf("complete: %d %s", done.StatusCode(), done.Body)
	}
	if id := done.JSON201; id.Provider != "corp" || id.Email != u.Email || id.EmailVerified || id.LastLoginAt != nil {
		t.Errorf("identity %+v", id)
	}
	if again := f.completeLink(pair.AccessToken, q["code"][0], p.verifier); again.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the link code worked twice: %d", again.StatusCode())
	}
	if me := f.me(f.logIn(u).AccessToken); me.Id != owner.Id {
		t.Errorf("the linked identity logged in to %s, want %s", me.Id, owner.Id)
	}
	if n := f.count("SELECT count(*) FROM mail_outbox WHERE kind = 'identity_linked' AND recipient = $1", owner.Email); n != 1 {
		t.Errorf("%d link notices, want 1", n)
	}
	if kinds := f.eventKinds(owner.Id.String()); !containsInOrder(kinds, []string{"identity_linked", "federated_login"}) {
		t.Errorf("events %v", kinds)
	}

	// Linking it again ends at the same identity, no error.
	p = newPKCE()
	q = f.linkFlow(pair.AccessToken, u, p)
	if same := f.completeLink(pair.AccessToken, q["code"][0], p.verifier); same.JSON201 == nil || same.JSON201.Id != done.JSON201.Id {
		t.Errorf("linking the same identity again: %d %s", same.StatusCode(), same.Body)
	}
}

// TestIdentityLink_OnlyTheStartingSessionCompletesIt: a link code that
// leaked (the URL of redirect_to) is no use to another session, even of
// the same account; it is spent all the same.
func TestIdentityLink_OnlyTheStartingSessionCompletesIt(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, pair := f.passwordAccount(false)
	other := f.app.Login(t, owner.Email, testkit.Password)
	u := f.idpUser(testkit.UniqueEmail(), true)
	p := newPKCE()
	q := f.linkFlow(pair.AccessToken, u, p)
	if r := f.completeLink(other.AccessToken, q["code"][0], p.verifier); r.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(r.Body), "invalid-oidc-code") {
		t.Fatalf("another session completed the link: %d %s", r.StatusCode(), r.Body)
	}
	if r := f.completeLink(pair.AccessToken, q["code"][0], p.verifier); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the code still worked after another session presented it: %d", r.StatusCode())
	}
	if n := f.count("SELECT count(*) FROM identities WHERE user_id = $1", owner.Id); n != 0 {
		t.Errorf("%d identities linked", n)
	}
	// A wrong verifier from the right session is refused too.
	p = newPKCE()
	q = f.linkFlow(pair.AccessToken, u, p)
	if r := f.completeLink(pair.AccessToken, q["code"][0], newPKCE().verifier); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("a wrong verifier completed the link: %d", r.StatusCode())
	}
	// A link code is no login code, nor the other way round.
	p = newPKCE()
	q = f.linkFlow(pair.AccessToken, u, p)
	if r := f.exchange(q["code"][0], p.verifier); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("a link code logged in: %d %s", r.StatusCode(), r.Body)
	}
	p = newPKCE()
	login := f.login(f.browser(), f.idpUser(testkit.UniqueEmail(), true), p)
	if r := f.completeLink(pair.AccessToken, login.Get("code"), p.verifier); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("a login code linked: %d %s", r.StatusCode(), r.Body)
	}
}

// TestIdentityLink_IdentityOfAnotherAccount: an identity that logs in to
// another account is not moved: identity_in_use, recorded on the account
// that tried.
func TestIdentityLink_IdentityOfAnotherAccount(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	theirs := f.me(f.logIn(u).AccessToken)
	owner, pair := f.passwordAccount(true)
	wantError(t, f.linkFlow(pair.AccessToken, u, newPKCE()), "identity_in_use")
	if kinds := f.eventKinds(owner.Id.String()); kinds[len(kinds)-1] != "federated_login_failed" {
		t.Errorf("events %v, want federated_login_failed last", kinds)
	}
	if me := f.me(f.logIn(u).AccessToken); me.Id != theirs.Id {
		t.Errorf("the identity moved to %s", me.Id)
	}
}

// TestIdentityLink_StartNeedsStepUpThePasswordAndAListedTarget: an
// identity is a way in; a stolen access token alone must not add one.
func TestIdentityLink_StartNeedsStepUpThePasswordAndAListedTarget(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, old := f.passwordAccount(false)
	f.app.Clock.Advance(11 * time.Minute) // past the step-up age
	if r := f.startLink(old.AccessToken, fedProvider, linkBody(newPKCE(), testkit.Password)); r.StatusCode() != http.StatusUnauthorized ||
		!strings.Contains(string(r.Body), "step-up-required") {
		t.Errorf("start without a recent authentication: %d %s", r.StatusCode(), r.Body)
	}
	fresh := f.app.Login(t, owner.Email, testkit.Password)
	for name, tc := range map[string]struct {
		provider string
		body     client.StartIdentityLinkRequest
		status   int
	}{
		"no password":      {fedProvider, linkBody(newPKCE(), ""), http.StatusUnprocessableEntity},
		"wrong password":   {fedProvider, linkBody(newPKCE(), "Wrong-Horse-8"), http.StatusForbidden},
		"unknown provider": {"nope", linkBody(newPKCE(), testkit.Password), http.StatusNotFound},
		"target off list": {fedProvider, func() client.StartIdentityLinkRequest {
			b := linkBody(newPKCE(), testkit.Password)
			b.RedirectTo = "https://evil.example/"
			return b
		}(), http.StatusUnprocessableEntity},
	} {
		if r := f.startLink(fresh.AccessToken, tc.provider, tc.body); r.StatusCode() != tc.status {
			t.Errorf("%s: %d %s, want %d", name, r.StatusCode(), r.Body, tc.status)
		}
	}
	if n := f.count("SELECT count(*) FROM oidc_links WHERE user_id = $1", owner.Id); n != 0 {
		t.Errorf("%d link tokens stored for refused starts", n)
	}
}

// TestIdentityLink_TokenWorksOnce: the authorize_url opens one login.
func TestIdentityLink_TokenWorksOnce(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	_, pair := f.passwordAccount(false)
	start := f.startLink(pair.AccessToken, fedProvider, linkBody(newPKCE(), testkit.Password))
	if start.JSON200 == nil {
		t.Fatalf("start: %d %s", start.StatusCode(), start.Body)
	}
	b := f.browser()
	if l := b.Open(start.JSON200.AuthorizeUrl, f.idp.Issuer()); l.Redirect == nil {
		t.Fatalf("first use: %s", l)
	}
	noRedirect(t, b.Open(start.JSON200.AuthorizeUrl, f.idp.Issuer()), http.StatusBadRequest)
}
