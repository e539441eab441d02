package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// The federation every test of this family sets up: authd at its public
// URL with one provider, corp, at a real OpenID Connect provider
// (tools/oidcprovider) on a loopback port, and one application target.
const (
	fedPublicURL    = "https://authd.example" // the test app's AUTHD_PUBLIC_URL
	fedProvider     = "corp"
	fedRedirect     = "https://app.example.com/auth/done"
	fedClientID     = "authd-test"
	fedClientSecret = "the-client-secret-of-authd"
	fedCallback     = fedPublicURL + "/auth/oidc/" + fedProvider + "/callback"
)

// fed is authd with federated login against a running provider.
type fed struct {
	t   *testing.T
	app *testkit.App
	idp *testkit.OIDCProvider
	// discovered is closed once authd has discovered the provider.
	discovered <-chan struct{}
}

// fedSetup is what newFed is asked for besides the defaults.
type fedSetup struct {
	behaviour  testkit.OIDCBehaviour
	env        map[string]string
	appOptions []testkit.Option
	idpDown    bool // the provider is stopped before authd starts
}

// newFed starts the provider and authd with corp configured, and waits for
// the discovery (unless the provider is down).
func newFed(t *testing.T, setup fedSetup) *fed {
	t.Helper()
	idp := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{
		Clients:   []testkit.OIDCClient{{ClientID: fedClientID, ClientSecret: fedClientSecret, RedirectURIs: []string{fedCallback}}},
		Behaviour: setup.behaviour,
	})
	if setup.idpDown {
		idp.Stop()
	}
	env := map[string]string{
		"AUTHD_OIDC_PROVIDERS":          fedProvider,
		"AUTHD_OIDC_CORP_ISSUER":        idp.Issuer(),
		"AUTHD_OIDC_CORP_CLIENT_ID":     fedClientID,
		"AUTHD_OIDC_CORP_CLIENT_SECRET": fedClientSecret,
		"AUTHD_OIDC_CORP_DISPLAY_NAME":  "Corp SSO",
		"AUTHD_REDIRECT_URLS":           fedRedirect + ",http://localhost:3000/cb",
	}
	for k, v := range setup.env {
		env[k] = v
	}
	app := testkit.NewApp(t, append([]testkit.Option{testkit.FastHashing, testkit.WithOIDC(t, env)}, setup.appOptions...)...)
	discovered := app.DiscoverProviders(t)
	if !setup.idpDown {
		<-discovered
	}
	return &fed{t: t, app: app, idp: idp, discovered: discovered}
}

// idpUser adds a user at the provider asserting email (verified or not),
// with a subject, username and password of its own.
func (f *fed) idpUser(email string, verified bool) testkit.OIDCUser {
	f.t.Helper()
	id := strings.ToLower(rand.Text()[:10])
	u := testkit.OIDCUser{Subject: "sub-" + id, Username: "user-" + id, Password: "pw-" + id, Email: email, EmailVerified: verified}
	f.idp.SetUser(u)
	return u
}

// browser is a fresh browser that reaches authd's public URL at the app.
func (f *fed) browser() *testkit.Browser {
	b := testkit.NewBrowser(f.t)
	b.Route(fedPublicURL, f.app.URL)
	return b
}

// pkce is the application's own PKCE pair for authd's one-time code.
type pkce struct{ verifier, challenge string }

func newPKCE() pkce {
	v := rand.Text() + rand.Text() // 52 characters of base32
	sum := sha256.Sum256([]byte(v))
	return pkce{verifier: v, challenge: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// authorizeURL is where the application sends the browser to log in.
func authorizeURL(redirectTo string, p pkce) string {
	return fedPublicURL + "/auth/oidc/" + fedProvider + "/authorize?" + url.Values{
		"redirect_to": {redirectTo}, "code_challenge": {p.challenge}, "code_challenge_method": {"S256"},
	}.Encode()
}

// toCallback runs the browser from authorize through the provider's login
// as u and returns the provider's redirect to authd's callback (not
// requested yet): its state, code and, when sent, iss.
func (f *fed) toCallback(b *testkit.Browser, start string, u testkit.OIDCUser) *url.URL {
	f.t.Helper()
	return b.LoginFlow(f.t, start, fedCallback, u.Username, u.Password)
}

// back opens the callback URL in b and returns the query of the redirect
// to the application.
func (f *fed) back(b *testkit.Browser, callback *url.URL) url.Values {
	f.t.Helper()
	l := b.Open(callback.String(), fedRedirect)
	if l.Redirect == nil {
		f.t.Fatalf("the callback did not redirect to the application: %s", l)
	}
	return l.Redirect.Query()
}

// login runs a whole federated login as u in b and returns what the
// application receives at redirect_to: code, or error.
func (f *fed) login(b *testkit.Browser, u testkit.OIDCUser, p pkce) url.Values {
	f.t.Helper()
	return f.back(b, f.toCallback(b, authorizeURL(fedRedirect, p), u))
}

// exchange is the application's POST /auth/oidc/token.
func (f *fed) exchange(code, verifier string) *client.OidcTokenResponse {
	f.t.Helper()
	return testkit.Must(f.app.Client.OidcTokenWithResponse(context.Background(), client.OidcCodeRequest{Code: code, CodeVerifier: verifier}))(f.t)
}

// logIn is a federated login as u to tokens, failing the test otherwise.
func (f *fed) logIn(u testkit.OIDCUser) client.TokenPair {
	f.t.Helper()
	p := newPKCE()
	q := f.login(f.browser(), u, p)
	if q.Get("code") == "" {
		f.t.Fatalf("federated login of %s: redirect_to got %v, want a code", u.Email, q)
	}
	resp := f.exchange(q.Get("code"), p.verifier)
	if resp.JSON200 == nil {
		f.t.Fatalf("exchange: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// wantError fails the test unless the application got error=code alone.
func wantError(t *testing.T, q url.Values, code string) {
	t.Helper()
	if q.Get("error") != code || len(q) != 1 {
		t.Fatalf("redirect_to got %v, want error=%s and nothing else", q, code)
	}
}

// me is GET /users/me with access.
func (f *fed) me(access string) client.User {
	f.t.Helper()
	resp := testkit.Must(f.app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(access)))(f.t)
	if resp.JSON200 == nil {
		f.t.Fatalf("GET /users/me: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// eventKinds are the account's security events, oldest first, read from
// the database (the account may be deactivated).
func (f *fed) eventKinds(userID string) []string {
	f.t.Helper()
	rows, err := f.app.Deps.DB.Pool().Query(context.Background(), "SELECT kind FROM security_events WHERE user_id = $1 ORDER BY id", userID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var kinds []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			f.t.Fatal(err)
		}
		kinds = append(kinds, k)
	}
	return kinds
}

// count runs a count(*) query.
func (f *fed) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.app.Deps.DB.Pool().QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// amrAndAAL are an access token's amr and aal, checked against the JWKS.
func amrAndAAL(t *testing.T, app *testkit.App, access string) ([]string, int) {
	t.Helper()
	tok := verifiedClaims(t, app, access)
	var amr []any
	var aal float64
	if err := tok.Get("amr", &amr); err != nil {
		t.Fatal(err)
	}
	if err := tok.Get("aal", &aal); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(amr))
	for _, m := range amr {
		s, _ := m.(string)
		out = append(out, s)
	}
	return out, int(aal)
}

// noRedirect fails the test unless the browser's navigation ended on a
// problem of status at authd, without being sent anywhere.
func noRedirect(t *testing.T, l testkit.Landing, status int) {
	t.Helper()
	if l.Redirect != nil || l.Status != status || !strings.Contains(l.Body, `"https://authd.dev/problems/`) {
		t.Fatalf("want a %d problem and no redirect, got %s", status, l)
	}
}

// containsInOrder reports whether want appear in got in this order.
func containsInOrder(got, want []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}
