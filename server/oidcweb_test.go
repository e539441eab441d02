package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// TestOIDCWeb_TheExamplePageSignsInThroughARealProvider drives the example
// page (examples/web) in Debian's Chromium against a real OpenID Connect
// provider (tools/oidcprovider): "Sign in with Corp SSO", the provider's
// own login form, and back on the page a logged-in /users/me with amr fed,
// for a new account the login created. The address bar keeps neither the
// code nor the verifier. Then a login cancelled at the provider comes back
// as a clear message, and the page stays logged out.
func TestOIDCWeb_TheExamplePageSignsInThroughARealProvider(t *testing.T) {
	t.Parallel()
	dist := exampleBuild(t)
	// authd's public URL is the page's origin: the browser must send the
	// authorize step's cookie back to the callback, so both are one host.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	page := origin + "/example/"
	const clientID, secret = "authd-example", "the-secret-of-the-example"
	idp := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{
		Clients: []testkit.OIDCClient{{ClientID: clientID, ClientSecret: secret, RedirectURIs: []string{origin + "/auth/oidc/corp/callback"}}},
	})
	email := testkit.UniqueEmail()
	user := testkit.OIDCUser{Subject: "sub-web", Username: "ada", Password: "provider-password-1", Email: email, EmailVerified: true}
	idp.SetUser(user)

	app := testkit.NewApp(t, testkit.FastHashing, testkit.WithOIDC(t, map[string]string{
		"AUTHD_PUBLIC_URL":              origin,
		"AUTHD_OIDC_PROVIDERS":          "corp",
		"AUTHD_OIDC_CORP_ISSUER":        idp.Issuer(),
		"AUTHD_OIDC_CORP_CLIENT_ID":     clientID,
		"AUTHD_OIDC_CORP_CLIENT_SECRET": secret,
		"AUTHD_OIDC_CORP_DISPLAY_NAME":  "Corp SSO",
		"AUTHD_REDIRECT_URLS":           page,
	}), func(d *server.Deps) {
		d.HTTP.ExampleDir = dist
		d.Mail.PublicURL = origin // the cookie's Secure flag follows it
	})
	<-app.DiscoverProviders(t)
	hs := &http.Server{Handler: app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { _ = hs.Close() })

	ctx, cancel := browser(t)
	defer cancel()
	err = chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(`#oidc-corp`))
	if err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	if label := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#oidc-corp`)))(t); label != "Sign in with Corp SSO" {
		t.Errorf("the provider's button says %q", label)
	}

	// To the provider and its own form, on its own origin.
	signInAtProvider(t, ctx, idp, user)
	if outcome, text := backOnThePage(t, ctx); outcome != "ok" {
		t.Fatalf("the federated login failed on the page: %s", text)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#whoami`)); err != nil {
		t.Fatal(err)
	}
	shown := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#me-email`)))(t)
	amr := strings.Split(testkit.Must(chromedp.Run(ctx, chromedp.Text(`#me-amr`)))(t), ", ")
	if shown != email || !slices.Equal(amr, []string{"fed"}) {
		t.Errorf("after the federated login the page shows %q with amr %v, want %q with [fed]", shown, amr, email)
	}
	location := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)))(t)
	kept := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[int](`sessionStorage.length`)))(t)
	if location != page || kept != 0 {
		t.Errorf("after the login the address bar is %q (want %q) and sessionStorage holds %d items", location, page, kept)
	}
	// The login made the account and linked the identity to it.
	var provider, subject string
	err = app.Deps.DB.Pool().QueryRow(context.Background(),
		`SELECT i.provider, i.subject FROM identities i JOIN users u ON u.id = i.user_id WHERE u.email = $1`, email).Scan(&provider, &subject)
	if err != nil || provider != "corp" || subject != user.Subject {
		t.Errorf("the account's identity: %q %q (%v)", provider, subject, err)
	}

	// Cancelled at the provider: back with error=access_denied, said
	// plainly, and nothing held.
	clickOK(t, ctx, "logout")
	if err := chromedp.Do(ctx, chromedp.Click(`#oidc-corp`), chromedp.WaitVisible(`#cancel`)); err != nil {
		t.Fatalf("to the provider again: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(`#cancel`)); err != nil {
		t.Fatal(err)
	}
	outcome, text := backOnThePage(t, ctx)
	state := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#state`)))(t)
	location = testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`)))(t)
	if outcome != "error" || !strings.Contains(text, "cancelled at the provider") || !strings.Contains(text, "error=access_denied") ||
		state != "Logged out." || location != page {
		t.Errorf("a cancelled login: %s %q, state %q, address %q", outcome, text, state, location)
	}
}

// signInAtProvider clicks the page's button and fills the provider's login
// form, which the browser must have reached on the provider's origin.
func signInAtProvider(t *testing.T, ctx context.Context, idp *testkit.OIDCProvider, u testkit.OIDCUser) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(`#oidc-corp`), chromedp.WaitVisible(`#username`)); err != nil {
		t.Fatalf("to the provider's form: %v", err)
	}
	at := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[string](`location.origin`)))(t)
	issuer := testkit.Must(url.Parse(idp.Issuer()))(t)
	if at != issuer.Scheme+"://"+issuer.Host {
		t.Fatalf("the login form is at %q, not at the provider %q", at, idp.Issuer())
	}
	err := chromedp.Do(ctx,
		chromedp.SendKeys(`#username`, u.Username),
		chromedp.SendKeys(`#password`, u.Password),
		chromedp.Click(`#submit`),
	)
	if err != nil {
		t.Fatalf("fill the provider's form: %v", err)
	}
}

// backOnThePage waits until the browser, back from the provider through
// authd's callback, is on the example page again and that page has
// answered what it was brought back with (the page reports the action
// "oidc" as soon as it reads the address).
func backOnThePage(t *testing.T, ctx context.Context) (string, string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.WaitReady(chromedp.CSS(`#result[data-action="oidc"]`))); err != nil {
		location, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href`))
		t.Fatalf("the browser did not come back to the page: %v (it is at %q)", err, location)
	}
	return pageResult(t, ctx, "oidc")
}
