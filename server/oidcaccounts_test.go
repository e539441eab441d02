package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/testkit"
)

// passwordAccount registers an account with a password, verified or not.
func (f *fed) passwordAccount(verified bool) (client.User, client.TokenPair) {
	f.t.Helper()
	u, pair := f.app.NewUser(f.t)
	if verified {
		if _, err := f.app.Deps.DB.Queries().MarkEmailVerified(context.Background(), db.MarkEmailVerifiedParams{ID: u.Id, Now: f.app.Clock.Now()}); err != nil {
			f.t.Fatal(err)
		}
	}
	return u, pair
}

// TestFederatedLogin_LinksAVerifiedAccountOnlyWhenTheProviderVerified: the
// owner of a verified address, proved so by a provider that verified it,
// logs in to the existing account (which keeps its password), and is told
// by mail.
func TestFederatedLogin_LinksAVerifiedAccountOnlyWhenTheProviderVerified(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, _ := f.passwordAccount(true)
	u := f.idpUser(owner.Email, true)

	pair := f.logIn(u)
	if me := f.me(pair.AccessToken); me.Id != owner.Id {
		t.Fatalf("logged in to %s, want the existing account %s", me.Id, owner.Id)
	}
	f.app.Login(t, owner.Email, testkit.Password) // the password still works
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", owner.Email); n != 1 {
		t.Errorf("%d accounts with the address, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM mail_outbox WHERE kind = 'identity_linked' AND recipient = $1", owner.Email); n != 1 {
		t.Errorf("%d link notices mailed, want 1", n)
	}
	if kinds := f.eventKinds(owner.Id.String()); !containsInOrder(kinds, []string{"identity_linked", "federated_login"}) {
		t.Errorf("events %v", kinds)
	}
}

// TestFederatedLogin_RefusesToLinkWhatIsNotProved: pre-account takeover.
// Someone asserts the address of an account at a provider that did not
// verify it; or the account's own address was never verified (it may be
// someone's squat). Either way nothing is linked or logged in: the answer
// is account_exists, the account gets a federated_login_failed event, and
// the owner links from the account instead.
func TestFederatedLogin_RefusesToLinkWhatIsNotProved(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	for name, tc := range map[string]struct{ providerVerified, localVerified bool }{
		"provider did not verify": {false, true},
		"account did not verify":  {true, false},
		"neither verified":        {false, false},
	} {
		owner, _ := f.passwordAccount(tc.localVerified)
		u := f.idpUser(owner.Email, tc.providerVerified)
		wantError(t, f.login(f.browser(), u, newPKCE()), "account_exists")
		if n := f.count("SELECT count(*) FROM identities WHERE user_id = $1", owner.Id); n != 0 {
			t.Errorf("%s: %d identities linked", name, n)
		}
		if kinds := f.eventKinds(owner.Id.String()); !slices.Contains(kinds, "federated_login_failed") || slices.Contains(kinds, "federated_login") {
			t.Errorf("%s: events %v, want federated_login_failed and no login", name, kinds)
		}
		f.app.Login(t, owner.Email, testkit.Password) // the account is untouched
	}
}

// TestFederatedLogin_SignupOff: with AUTHD_OIDC_SIGNUP=false an unknown
// address gets no account; existing accounts still log in.
func TestFederatedLogin_SignupOff(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{env: map[string]string{"AUTHD_OIDC_SIGNUP": "false"}})
	stranger := f.idpUser(testkit.UniqueEmail(), true)
	wantError(t, f.login(f.browser(), stranger, newPKCE()), "signup_disabled")
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", stranger.Email); n != 0 {
		t.Errorf("%d accounts made with signup off", n)
	}
	owner, _ := f.passwordAccount(true)
	if me := f.me(f.logIn(f.idpUser(owner.Email, true)).AccessToken); me.Id != owner.Id {
		t.Errorf("an existing account did not log in with signup off")
	}
}

// TestFederatedLogin_DeactivatedAccount: a linked identity of a deactivated
// account does not log in: a code issued before the deactivation is refused
// at the exchange, a new login at the callback (account_disabled), and both
// are recorded on the account.
func TestFederatedLogin_DeactivatedAccount(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, pair := f.passwordAccount(true)
	u := f.idpUser(owner.Email, true)
	f.logIn(u) // linked
	p := newPKCE()
	early := f.login(f.browser(), u, p).Get("code")
	resp := testkit.Must(f.app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)))(t)
	if resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("deactivate: %d %s", resp.StatusCode(), resp.Body)
	}
	if r := f.exchange(early, p.verifier); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("exchange of a code issued before the deactivation: %d %s", r.StatusCode(), r.Body)
	}
	wantError(t, f.login(f.browser(), u, newPKCE()), "account_disabled")
	kinds := f.eventKinds(owner.Id.String())
	if !containsInOrder(kinds, []string{"account_deactivated", "federated_login_failed", "federated_login_failed"}) {
		t.Errorf("events %v, want two federated_login_failed after the deactivation", kinds)
	}
}

// TestFederatedLogin_ConcurrentFirstLoginsMakeOneAccount: two first logins
// of one identity at once (two tabs) end in one account, both logged in.
func TestFederatedLogin_ConcurrentFirstLoginsMakeOneAccount(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	b1, b2 := f.browser(), f.browser()
	p1, p2 := newPKCE(), newPKCE()
	c1 := f.toCallback(b1, authorizeURL(fedRedirect, p1), u)
	c2 := f.toCallback(b2, authorizeURL(fedRedirect, p2), u)
	results := make(chan testkit.Landing, 2)
	go func() { results <- b1.Open(c1.String(), fedRedirect) }()
	go func() { results <- b2.Open(c2.String(), fedRedirect) }()
	for range 2 {
		if l := <-results; l.Redirect == nil || l.Redirect.Query().Get("code") == "" {
			t.Fatalf("a concurrent first login: %s, want a code", l)
		}
	}
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", u.Email); n != 1 {
		t.Errorf("%d accounts, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM identities WHERE subject = $1", u.Subject); n != 1 {
		t.Errorf("%d identities, want 1", n)
	}
}
