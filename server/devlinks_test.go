package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/testkit"
)

var mailedLink = regexp.MustCompile(`https://authd\.example/[a-z-]+\?token=[A-Za-z0-9_%-]+`)

// getPage fetches path from base with a plain client (the pages are outside
// the spec the test client checks against).
func getPage(t *testing.T, base, path string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// TestDevLinks_AMailedResetLinkOpensAFormThatResetsThePassword: in
// development the link of a real mail answers with a page whose form resets
// the password in a browser, and the page lets the token go nowhere else.
func TestDevLinks_AMailedResetLinkOpensAFormThatResetsThePassword(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, _ := app.NewUser(t)
	if r := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: u.Email}))(t); r.StatusCode() != 202 {
		t.Fatalf("forgot password: %d %s", r.StatusCode(), r.Body)
	}
	link := mailedLink.FindString(mp.WaitForMail(u.Email, 1)[0].Text)
	if !strings.HasPrefix(link, "https://authd.example/reset-password?token=") {
		t.Fatalf("no reset link in the mail: %q", link)
	}
	path := strings.TrimPrefix(link, "https://authd.example")

	resp, body := getPage(t, app.URL, path)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(body, `<form data-api="/auth/password/reset"`) || !strings.Contains(body, `name="new_password"`) {
		t.Fatalf("reset page: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	for header, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "http") {
		t.Errorf("CSP lets the page reach further than authd: %q", csp)
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") || strings.Contains(body, " src=") {
		t.Errorf("the page loads or names another origin:\n%s", body)
	}
	for _, action := range []string{"/verify-email", "/confirm-email"} {
		if resp, body := getPage(t, app.URL, action+"?token=x"); resp.StatusCode != 200 || !strings.Contains(body, "<form") {
			t.Errorf("GET %s: %d", action, resp.StatusCode)
		}
	}

	// In a browser: the script (allowed by the CSP's hash) sends the token.
	ctxB, cancel := browser(t)
	defer cancel()
	const newPassword = "Battery-Staple-42"
	err := chromedp.Do(ctxB,
		chromedp.Navigate(app.URL+path),
		chromedp.WaitVisible(`input[name=new_password]`),
		chromedp.SendKeys(`input[name=new_password]`, newPassword),
		chromedp.Click(`button[type=submit]`),
	)
	if err != nil {
		t.Fatalf("fill the form in the browser: %v", err)
	}
	answered := `(t => t !== "" && !t.startsWith("Sending"))(document.querySelector("output").textContent)`
	if _, err := chromedp.Run(ctxB, chromedp.Poll[bool](answered, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		t.Fatalf("no answer on the page: %v", err)
	}
	out := testkit.Must(chromedp.Run(ctxB, chromedp.Text(`output`)))(t)
	location := testkit.Must(chromedp.Run(ctxB, chromedp.Evaluate[string](`location.href`)))(t)
	if !strings.HasPrefix(out, "204") {
		t.Fatalf("the page's reset answered %q", out)
	}
	if strings.Contains(location, "token") {
		t.Errorf("the token stays in the address bar: %s", location)
	}
	login := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: u.Email, Password: newPassword}))(t)
	if login.JSON200 == nil {
		t.Errorf("login with the password set on the page: %d %s", login.StatusCode(), login.Body)
	}
}

// browser is a headless Chromium for one test.
func browser(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	return ctx, func() { cancelTimeout(); cancelBrowser(); cancelAlloc() }
}

// TestDevLinks_ProductionServesNoPage: authd built from a production
// configuration answers 404 at every link path and at the example page.
func TestDevLinks_ProductionServesNoPage(t *testing.T) {
	t.Parallel()
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, testkit.NewApp(t).PrivateKeys, 0o600); err != nil {
		t.Fatal(err)
	}
	dataKeys := filepath.Join(t.TempDir(), "datakeys.json")
	if err := os.WriteFile(dataKeys, testkit.Must(datakeys.Generate())(t), 0o600); err != nil {
		t.Fatal(err)
	}
	// A built example page where AUTHD_EXAMPLE_DIR says: production still
	// serves none.
	example := t.TempDir()
	if err := os.WriteFile(filepath.Join(example, "index.html"), []byte("<!doctype html><title>example</title>"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(map[string]string{
		"AUTHD_ENV": config.EnvProduction, "AUTHD_JWT_KEYS_FILE": keys, "AUTHD_DATA_KEYS_FILE": dataKeys, "AUTHD_EXAMPLE_DIR": example,
		"AUTHD_SMTP_URL": "smtp://mail.example.com:587", "AUTHD_PUBLIC_URL": "https://auth.example.com",
		"DATABASE_URL": testkit.DatabaseURL(),
	})
	if err != nil {
		t.Fatal(err)
	}
	pool := testkit.Pool(t)
	mig := testkit.Must(database.NewMigrator(pool))(t)
	t.Cleanup(func() { mig.Close() })
	srv, err := server.Build(context.Background(), cfg, server.Base{Pool: pool, Migrations: mig, Log: slog.New(slog.DiscardHandler), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for _, action := range []string{"/verify-email", "/reset-password", "/confirm-email"} {
		if resp, body := getPage(t, hs.URL, action+"?token=x"); resp.StatusCode != 404 || strings.Contains(body, "<form") {
			t.Errorf("production GET %s: %d\n%s", action, resp.StatusCode, body)
		}
	}
	for _, path := range []string{"/example", "/example/", "/example/index.html"} {
		if resp, body := getPage(t, hs.URL, path); resp.StatusCode != 404 || strings.Contains(body, "<title>example") {
			t.Errorf("production GET %s: %d\n%s", path, resp.StatusCode, body)
		}
	}
}
