package server_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/testkit"
)

// exampleBuild is the example page as `make example` builds it.
func exampleBuild(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../examples/web/dist")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index.html")); err != nil {
		t.Fatalf("the example page is not built (run `make example`, as make test does): %v", err)
	}
	return dir
}

// pageResult waits until the page has answered the action it was asked
// (#result names it and says ok or error) and returns the outcome and text.
func pageResult(t *testing.T, ctx context.Context, action string) (string, string) {
	t.Helper()
	done := fmt.Sprintf(`(r => r.dataset.action === %q && (r.dataset.outcome === "ok" || r.dataset.outcome === "error"))(document.getElementById("result"))`, action)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](done, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Text(`#result`))
		t.Fatalf("%s: the page did not answer: %v (it shows %q)", action, err, text)
	}
	outcome := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("result").dataset.outcome`)))(t)
	text := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#result`)))(t)
	return outcome, text
}

// clickOK presses a button of the page and fails the test unless its action succeeds.
func clickOK(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click("#"+id)); err != nil {
		t.Fatalf("click #%s: %v", id, err)
	}
	outcome, text := pageResult(t, ctx, id)
	if outcome != "ok" {
		t.Fatalf("%s failed on the page: %s", id, text)
	}
	return text
}

// addAuthenticator enables the DevTools WebAuthn domain (again: enabling is
// idempotent) and attaches a virtual platform authenticator with resident
// keys and user verification that answers without a person.
func addAuthenticator(t *testing.T, ctx context.Context) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// TestPasskeyWeb_TheExamplePageAddsAPasskeyAndLogsInWithIt drives the example
// page (examples/web) in Debian's Chromium with a virtual authenticator of
// the DevTools WebAuthn domain: register, password login, an authenticator
// app enrolled from the page's secret, a passkey added after a step-up with
// the app's code, logout, passkey login, /users/me; then, the authenticator gone, the
// passkey login fails on the page and leaves it logged out.
func TestPasskeyWeb_TheExamplePageAddsAPasskeyAndLogsInWithIt(t *testing.T) {
	t.Parallel()
	dist := exampleBuild(t)
	// The page must be on an origin of AUTHD_WEBAUTHN_ORIGINS on the
	// relying party id localhost: listen first to know the port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	origin := fmt.Sprintf("http://localhost:%d", ln.Addr().(*net.TCPAddr).Port)
	rp, err := server.NewWebAuthn(config.Config{WebAuthnRPID: "localhost", WebAuthnRPName: "authd", WebAuthnOrigins: []string{origin}})
	if err != nil {
		t.Fatal(err)
	}
	app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) {
		d.WebAuthn = rp
		d.HTTP.ExampleDir = dist
	})
	hs := &http.Server{Handler: app.Handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() { _ = hs.Close() })

	// The page is served with a policy that lets it reach authd alone.
	resp, body := getPage(t, origin, "/example/")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script type="module" src="main.js">`) ||
		!strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self';") ||
		!strings.Contains(csp, "connect-src 'self';") || strings.Contains(csp, "unsafe") {
		t.Fatalf("GET /example/: %d, CSP %q\n%s", resp.StatusCode, csp, body)
	}
	if resp, _ := getPage(t, origin, "/example/main.js"); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("GET /example/main.js: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	ctx, cancel := browser(t)
	defer cancel()
	authenticator := addAuthenticator(t, ctx)

	email, password := testkit.UniqueEmail(), "Correct-Horse-Battery-9"
	err = chromedp.Do(ctx,
		chromedp.Navigate(origin+"/example/"),
		chromedp.WaitVisible(`#register`),
		chromedp.SendKeys(`#email`, email),
		chromedp.SendKeys(`#password`, password),
	)
	if err != nil {
		t.Fatalf("open the example page: %v", err)
	}
	clickOK(t, ctx, "register")
	clickOK(t, ctx, "login")

	// An authenticator app: the QR code shown and the app's first code (the
	// previous step's, leaving the current one for the step-up below).
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#totp-password`, password)); err != nil {
		t.Fatal(err)
	}
	clickOK(t, ctx, "totp-start")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#totp-qr`)); err != nil {
		t.Fatal(err)
	}
	qr := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("totp-qr").src`)))(t)
	loaded := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[bool](`(i => i.complete && i.naturalWidth > 0)(document.getElementById("totp-qr"))`)))(t)
	if !strings.HasPrefix(qr, "data:image/png;base64,") || !loaded {
		t.Errorf("the QR code is %.40q (shown: %v)", qr, loaded)
	}
	secret := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#totp-secret`)))(t)
	if err := chromedp.Do(ctx, chromedp.SendKeys(`#totp-code`, app.TOTP(t, secret, -1))); err != nil {
		t.Fatal(err)
	}
	clickOK(t, ctx, "totp-activate")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#recovery-codes`)); err != nil {
		t.Fatal(err)
	}
	if codes := strings.Fields(testkit.Must(chromedp.Run(ctx, chromedp.Text(`#recovery-codes`)))(t)); len(codes) != 10 {
		t.Errorf("the page shows %d recovery codes: %v", len(codes), codes)
	}

	// A passkey: the password login's session is below the account's new
	// level, so the page steps up with the app's current code first.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(`#passkey-password`, password),
		chromedp.SendKeys(`#stepup-code`, app.TOTP(t, secret, 0)),
	)
	if err != nil {
		t.Fatal(err)
	}
	clickOK(t, ctx, "passkey-add")
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: authenticator})
	if err != nil {
		t.Fatal(err)
	}
	if len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v, want one discoverable credential for localhost", creds.Credentials)
	}
	listed := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#passkey-list`)))(t)
	if !strings.Contains(listed, "This browser") {
		t.Errorf("the page lists the passkeys as %q", listed)
	}

	clickOK(t, ctx, "logout")
	clickOK(t, ctx, "passkey-login")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(`#whoami`)); err != nil {
		t.Fatal(err)
	}
	shown := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#me-email`)))(t)
	amr := strings.Split(testkit.Must(chromedp.Run(ctx, chromedp.Text(`#me-amr`)))(t), ", ")
	if shown != email {
		t.Errorf("after the passkey login the page shows %q, want %q", shown, email)
	}
	if !slices.Contains(amr, "hwk") && !slices.Contains(amr, "swk") {
		t.Errorf("the access token's amr is %v, want hwk or swk", amr)
	}
	// The page read amr from the token; authd's session says the same.
	var sessionAMR []string
	err = app.Deps.DB.Pool().QueryRow(context.Background(),
		`SELECT s.amr FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1 ORDER BY s.created_at DESC LIMIT 1`, email).Scan(&sessionAMR)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(sessionAMR, "hwk") && !slices.Contains(sessionAMR, "swk") {
		t.Errorf("the passkey login's session has amr %v", sessionAMR)
	}

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "passkey-example.png")
	if os.Getenv("AUTHD_UPDATE_SCREENSHOT") != "" {
		out = "../docs/passkey-example.png"
	}
	if err := os.WriteFile(out, shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// Without the authenticator the login fails on the page: an error
	// shown, no tokens held. Another authenticator, without the passkey,
	// takes its place: with none at all the browser would wait, as for a
	// security key to be plugged in, until the ceremony times out.
	clickOK(t, ctx, "logout")
	if _, err := chromedp.Call(ctx, webauthn.RemoveVirtualAuthenticator, webauthn.RemoveVirtualAuthenticatorParams{AuthenticatorID: authenticator}); err != nil {
		t.Fatal(err)
	}
	addAuthenticator(t, ctx)
	if err := chromedp.Do(ctx, chromedp.Click(`#passkey-login`)); err != nil {
		t.Fatal(err)
	}
	outcome, text := pageResult(t, ctx, "passkey-login")
	state := testkit.Must(chromedp.Run(ctx, chromedp.Text(`#state`)))(t)
	hidden := testkit.Must(chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("whoami").hidden`)))(t)
	if outcome != "error" || !strings.Contains(text, "NotAllowedError") || state != "Logged out." || !hidden {
		t.Errorf("a passkey login without the authenticator: %s %q, state %q, /users/me hidden %v", outcome, text, state, hidden)
	}
}
