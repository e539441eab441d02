package server_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/authd/authd"
	"github.com/authd/authd/server/testkit"
)

// chromium finds Debian's Chromium; make test installs it when missing.
func chromium(t *testing.T) string {
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p != "" {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("Chromium not found: install Debian's chromium (apt-get install chromium), as make test does as root, or set CHROMIUM")
	return ""
}

// TestSwaggerUI_TryOutGetMeInARealBrowser opens /docs in headless Chromium,
// checks that every operation of the contract is listed, authorizes with a
// real access token and uses "Try it out" on GET /users/me.
func TestSwaggerUI_TryOutGetMeInARealBrowser(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:0:0],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 2400),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/docs"), chromedp.WaitVisible(`#operations-users-getMe`)); err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	listed, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('.opblock')].map(b =>
		b.querySelector('.opblock-summary-method').textContent.trim().toLowerCase() + ' ' +
		b.querySelector('.opblock-summary-path').getAttribute('data-path'))`))
	if err != nil {
		t.Fatal(err)
	}
	spec, _ := authd.LoadSpec()
	want := 0
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			want++
			entry := strings.ToLower(method) + " " + path
			found := false
			for _, l := range listed {
				found = found || l == entry
			}
			if !found {
				t.Errorf("Swagger UI does not list %s (listed: %v)", entry, listed)
			}
		}
	}
	if len(listed) != want {
		t.Errorf("Swagger UI lists %d operations, the contract has %d", len(listed), want)
	}

	err = chromedp.Do(ctx,
		chromedp.Click(`.auth-wrapper .authorize`),
		chromedp.WaitVisible(`.modal-ux input`),
		chromedp.SendKeys(`.modal-ux input`, pair.AccessToken),
		chromedp.Click(`.modal-ux .auth-btn-wrapper .authorize`),
		chromedp.Click(`.modal-ux .btn-done`),
		chromedp.Click(`#operations-users-getMe .opblock-summary`),
		chromedp.WaitVisible(`#operations-users-getMe .try-out__btn`),
		chromedp.Click(`#operations-users-getMe .try-out__btn`),
		chromedp.Click(`#operations-users-getMe .execute`),
		chromedp.WaitVisible(`#operations-users-getMe .live-responses-table tbody .response-col_status`),
	)
	if err != nil {
		t.Fatalf("try out GET /users/me: %v", err)
	}
	status, err := chromedp.Run(ctx, chromedp.Text(`#operations-users-getMe .live-responses-table tbody .response-col_status`))
	if err != nil {
		t.Fatal(err)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(`#operations-users-getMe .live-responses-table .microlight`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(strings.TrimSpace(status), "200") || !strings.Contains(body, u.Email) {
		t.Errorf("Try it out answered %q: %s", status, body)
	}

	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(80))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "swagger-ui.jpg")
	if os.Getenv("AUTHD_UPDATE_SCREENSHOT") != "" {
		out = "../docs/swagger-ui.jpg" // make screenshot
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		t.Fatal(err)
	}
}
