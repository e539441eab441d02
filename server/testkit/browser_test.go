package testkit_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// The attack tests of federated login rely on these: a routed public URL
// keeps its Secure cookies, and a cookie can be dropped or handed over.
func TestBrowser_RoutesAPublicURLAndKeepsItsCookies(t *testing.T) {
	t.Parallel()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth/start":
			if r.Host != "authd.example" {
				t.Errorf("Host %q, want the public host", r.Host)
			}
			http.SetCookie(w, &http.Cookie{Name: "flow", Value: "v1", Path: "/auth/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			http.Redirect(w, r, "/auth/check", http.StatusFound)
		case "/auth/check":
			done := "https://app.example/done?cookie=no-cookie"
			if c, err := r.Cookie("flow"); err == nil && c.Value == "v1" {
				done = "https://app.example/done?cookie=v1"
			}
			http.Redirect(w, r, done, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer app.Close()
	const public = "https://authd.example"

	b := testkit.NewBrowser(t)
	b.Route(public, app.URL)
	l := b.Open(public+"/auth/start", "https://app.example/done")
	if l.Redirect == nil || l.Redirect.Query().Get("cookie") != "v1" {
		t.Fatalf("the Secure cookie did not travel over the route: %s", l)
	}
	if got := b.Cookies(public + "/auth/check"); len(got) != 1 || got[0].Value != "v1" {
		t.Fatalf("cookies %v", got)
	}

	other := testkit.NewBrowser(t)
	other.Route(public, app.URL)
	if l := other.Open(public+"/auth/check", "https://app.example/done"); l.Redirect.Query().Get("cookie") != "no-cookie" {
		t.Errorf("another browser sent a cookie: %s", l)
	}
	other.SetCookies(public+"/auth/check", b.Cookies(public+"/auth/check"))
	if l := other.Open(public+"/auth/check", "https://app.example/done"); l.Redirect.Query().Get("cookie") != "v1" {
		t.Errorf("a handed-over cookie was not sent: %s", l)
	}

	b.DropCookie(public+"/auth/check", "flow")
	if l := b.Open(public+"/auth/check", "https://app.example/done"); l.Redirect.Query().Get("cookie") != "no-cookie" {
		t.Errorf("a dropped cookie was sent: %s", l)
	}
}
