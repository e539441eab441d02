package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// TestFederatedLogin_FirstLoginCreatesTheAccountSecondLogsIn: an identity
// nobody has, with an address nobody has, gets an account without a
// password (verified, since the provider verified the address); its second
// login is a new session of the same account. The tokens say fed, aal 1.
func TestFederatedLogin_FirstLoginCreatesTheAccountSecondLogsIn(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	email := testkit.UniqueEmail()
	u := f.idpUser(email, true)

	first := f.logIn(u)
	amr, aal := amrAndAAL(t, f.app, first.AccessToken)
	if !slices.Equal(amr, []string{"fed"}) || aal != 1 {
		t.Errorf("amr %v aal %d, want [fed] 1", amr, aal)
	}
	me := f.me(first.AccessToken)
	if me.Email != email || me.EmailVerifiedAt == nil || !me.IsActive {
		t.Errorf("the new account %+v, want %s, verified and active", me, email)
	}
	var hash string
	if err := f.app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT password_hash FROM users WHERE id = $1", me.Id).Scan(&hash); err != nil || hash != "" {
		t.Errorf("the new account's password hash %q (%v), want none", hash, err)
	}

	second := f.logIn(u)
	if again := f.me(second.AccessToken); again.Id != me.Id {
		t.Fatalf("the second login reached account %s, want %s", again.Id, me.Id)
	}
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", email); n != 1 {
		t.Errorf("%d accounts with the address, want 1", n)
	}
	if n := f.count("SELECT count(*) FROM identities WHERE user_id = $1 AND provider = 'corp' AND subject = $2 AND email_verified AND last_login_at IS NOT NULL", me.Id, u.Subject); n != 1 {
		t.Errorf("%d identities for the account, want 1", n)
	}
	kinds := f.eventKinds(me.Id.String())
	if !containsInOrder(kinds, []string{"registered", "identity_linked", "federated_login", "federated_login"}) || slices.Contains(kinds, "login_succeeded") {
		t.Errorf("events %v, want registered, identity_linked and a federated_login per login", kinds)
	}
	// Both sessions live: the first was not replaced by the second.
	if f.me(first.AccessToken).Id != me.Id {
		t.Error("the first session ended")
	}
}

// TestFederatedLogin_UnverifiedAddressMakesAnUnverifiedAccount: the
// account of an address the provider did not verify is unverified; when
// verification is required, its code exchange answers 403 as a password
// login would.
func TestFederatedLogin_UnverifiedAddressMakesAnUnverifiedAccount(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), false)
	if me := f.me(f.logIn(u).AccessToken); me.EmailVerifiedAt != nil {
		t.Errorf("account %+v verified, but the provider did not verify the address", me)
	}

	strict := newFed(t, fedSetup{appOptions: []testkit.Option{requireVerified}})
	v := strict.idpUser(testkit.UniqueEmail(), false)
	p := newPKCE()
	q := strict.login(strict.browser(), v, p)
	resp := strict.exchange(q.Get("code"), p.verifier)
	if resp.StatusCode() != http.StatusForbidden || !strings.Contains(string(resp.Body), "email-not-verified") {
		t.Fatalf("exchange for an unverified account with verification required: %d %s", resp.StatusCode(), resp.Body)
	}
}

// TestFederatedLogin_AddressFromUserinfo: a provider that keeps the address
// out of the ID token is asked at its userinfo endpoint, and a string
// "true" counts as verified.
func TestFederatedLogin_AddressFromUserinfo(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser(testkit.UniqueEmail(), true)
	u.EmailOnlyInUserinfo, u.EmailVerifiedAsString = true, true
	f.idp.SetUser(u)
	if me := f.me(f.logIn(u).AccessToken); me.Email != u.Email || me.EmailVerifiedAt == nil {
		t.Errorf("account %+v, want %s verified (from userinfo)", me, u.Email)
	}
}

// TestFederatedLogin_UserinfoOfAnotherSubjectIsRefused: userinfo answering
// for another subject than the ID token's is not this user's address.
func TestFederatedLogin_UserinfoOfAnotherSubjectIsRefused(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{behaviour: testkit.OIDCBehaviour{UserinfoSubject: "someone-else"}})
	u := f.idpUser(testkit.UniqueEmail(), true)
	u.EmailOnlyInUserinfo = true
	f.idp.SetUser(u)
	wantError(t, f.login(f.browser(), u, newPKCE()), "invalid_id_token")
	if n := f.count("SELECT count(*) FROM users WHERE email = $1", u.Email); n != 0 {
		t.Errorf("%d accounts made from the other subject's address", n)
	}
}

// TestFederatedLogin_NoAddressIsRefused: an unknown identity without an
// address cannot be matched or given an account.
func TestFederatedLogin_NoAddressIsRefused(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	u := f.idpUser("", false)
	wantError(t, f.login(f.browser(), u, newPKCE()), "email_required")
}

// TestListProviders_NamesEachProviderWithItsPath: what a login page needs,
// and nothing secret.
func TestListProviders_NamesEachProviderWithItsPath(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	resp := testkit.Must(f.app.Client.ListProvidersWithResponse(context.Background()))(t)
	if resp.JSON200 == nil {
		t.Fatalf("GET /auth/providers: %d %s", resp.StatusCode(), resp.Body)
	}
	want := client.Provider{Name: "corp", DisplayName: "Corp SSO", AuthorizePath: "/auth/oidc/corp/authorize", Available: true}
	if got := resp.JSON200.Providers; len(got) != 1 || got[0] != want {
		t.Errorf("providers %+v, want %+v", got, want)
	}
	for _, secret := range []string{fedClientSecret, fedClientID, f.idp.Issuer()} {
		if strings.Contains(string(resp.Body), secret) {
			t.Errorf("the list shows %q: %s", secret, resp.Body)
		}
	}
	none := testkit.NewApp(t, testkit.FastHashing)
	if r := testkit.Must(none.Client.ListProvidersWithResponse(context.Background()))(t); r.JSON200 == nil || len(r.JSON200.Providers) != 0 {
		t.Errorf("without providers: %d %s", r.StatusCode(), r.Body)
	}
}

// TestOidcAuthorize_SetsTheBindingCookieAndSendsPKCE: the redirect to the
// provider carries state, nonce and an S256 challenge; the cookie is
// HttpOnly, Lax, Secure (authd is https) and scoped to the flow.
func TestOidcAuthorize_SetsTheBindingCookieAndSendsPKCE(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	b := f.browser()
	l := b.Open(authorizeURL(fedRedirect, newPKCE()), f.idp.Issuer())
	if l.Redirect == nil || l.Status != http.StatusFound {
		t.Fatalf("authorize: %s", l)
	}
	q := l.Redirect.Query()
	if len(q.Get("state")) < 43 || len(q.Get("nonce")) < 43 || q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 ||
		q.Get("client_id") != fedClientID || q.Get("redirect_uri") != fedCallback || q.Get("response_type") != "code" || q.Get("scope") != "openid email profile" {
		t.Errorf("redirect to the provider %s", l.Redirect)
	}
	req, _ := http.NewRequest(http.MethodGet, f.app.URL+"/auth/oidc/corp/authorize?"+l.URL.RawQuery, nil)
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		t.Fatalf("Set-Cookie %v", resp.Header.Values("Set-Cookie"))
	}
	c := cookies[0]
	if c.Name != "authd_oidc" || !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/auth/oidc/" || c.MaxAge != 600 || len(c.Value) < 43 {
		t.Errorf("cookie %+v", c)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
}
