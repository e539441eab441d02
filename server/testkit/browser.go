package testkit

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"
)

// Browser is an HTTP client with a cookie jar that follows redirects
// itself, so it can stop before the one that returns to the application and
// fill a provider's login form on the way, as a user's browser would.
type Browser struct {
	// Client sends the requests; its Jar holds the cookies of every site.
	Client *http.Client
	// History is every URL requested or redirected to, in order.
	History []*url.URL

	t      T
	jar    *cookiejar.Jar
	stop   string    // the stop prefix of the last Open
	form   *htmlForm // the login form the last navigation ended on
	page   *url.URL  // the URL the form was served from
	routes map[string]*url.URL
}

// Landing is where a navigation ended: a redirect to the stop prefix (not
// requested), a login form, or any other answer.
type Landing struct {
	// Redirect is the redirect whose target starts with the stop prefix;
	// the browser did not request it. Nil when the navigation ended
	// elsewhere.
	Redirect *url.URL
	// LoginForm tells that the page has a form with a password field, which
	// Login fills.
	LoginForm bool
	// URL, Status and Body are the last answer received (for a Redirect:
	// the answer that redirected).
	URL    *url.URL
	Status int
	Body   string
	// Err is a failure to reach a site (a provider that is down).
	Err error
}

const maxRedirects = 20

// NewBrowser makes a browser with an empty cookie jar.
func NewBrowser(t T) *Browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, jar: jar, routes: map[string]*url.URL{}}
	b.Client = &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: routingTransport{b: b, next: http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // Open follows them itself
		},
	}
	return b
}

// Route sends the requests for URLs under publicURL (scheme and host) to
// serverURL instead, while URLs, cookies and redirects keep publicURL: a
// test app whose AUTHD_PUBLIC_URL is https://authd.example is reached on
// its loopback port, and its Secure cookies still travel.
func (b *Browser) Route(publicURL, serverURL string) {
	from, err := url.Parse(publicURL)
	if err != nil {
		b.t.Fatal(err)
	}
	to, err := url.Parse(serverURL)
	if err != nil {
		b.t.Fatal(err)
	}
	b.routes[from.Scheme+"://"+from.Host] = to
}

type routingTransport struct {
	b    *Browser
	next http.RoundTripper
}

func (rt routingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	to, ok := rt.b.routes[req.URL.Scheme+"://"+req.URL.Host]
	if !ok {
		return rt.next.RoundTrip(req)
	}
	out := req.Clone(req.Context())
	out.Host = req.URL.Host // as a proxy in front of the app would pass it
	out.URL.Scheme, out.URL.Host = to.Scheme, to.Host
	return rt.next.RoundTrip(out)
}

// Open requests rawURL and follows redirects until one leads to a URL that
// starts with stopPrefix (returned, not requested), or a page that does not
// redirect (a login form or anything else).
func (b *Browser) Open(rawURL, stopPrefix string) Landing {
	b.t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatal(err)
	}
	b.stop = stopPrefix
	return b.follow(http.MethodGet, u, nil)
}

// Login fills the login form the last navigation ended on with username
// and password, submits it with its first button and follows redirects as
// Open did, to the same stop prefix. A wrong password lands on the form
// again.
func (b *Browser) Login(username, password string) Landing {
	b.t.Helper()
	return b.submit(func(f *htmlForm) url.Values { return f.filled(username, password) })
}

// Cancel submits the login form with its "cancel" button, as a user who
// declines: the provider answers access_denied.
func (b *Browser) Cancel() Landing {
	b.t.Helper()
	return b.submit(func(f *htmlForm) url.Values { return f.pressed("cancel") })
}

func (b *Browser) submit(values func(*htmlForm) url.Values) Landing {
	b.t.Helper()
	if b.form == nil {
		b.t.Fatal("the browser is not on a login form")
	}
	f, page := b.form, b.page
	action, err := page.Parse(f.action)
	if err != nil {
		b.t.Fatal(err)
	}
	v := values(f)
	if v == nil {
		b.t.Fatal("the login form has no such button")
	}
	if f.method == http.MethodGet {
		action.RawQuery = v.Encode()
		return b.follow(http.MethodGet, action, nil)
	}
	return b.follow(http.MethodPost, action, v)
}

// LoginFlow opens authorizeURL, signs in on the provider's form and
// returns the redirect to stopPrefix (not requested): for an application's
// redirect_to, its query carries code or error. It fails the test when
// the navigation ends anywhere else.
func (b *Browser) LoginFlow(t T, authorizeURL, stopPrefix, username, password string) *url.URL {
	t.Helper()
	l := b.Open(authorizeURL, stopPrefix)
	if !l.LoginForm {
		t.Fatalf("opening %s did not reach a login form: %s", authorizeURL, l)
	}
	l = b.Login(username, password)
	if l.Redirect == nil {
		t.Fatalf("signing in as %q did not redirect to %s: %s", username, stopPrefix, l)
	}
	return l.Redirect
}

// follow sends the request and its redirects.
func (b *Browser) follow(method string, u *url.URL, form url.Values) Landing {
	b.t.Helper()
	b.form, b.page = nil, nil
	for range maxRedirects {
		b.History = append(b.History, u)
		resp, body, err := b.do(method, u, form)
		if err != nil {
			return Landing{URL: u, Err: err}
		}
		l := Landing{URL: u, Status: resp.StatusCode, Body: body}
		loc := resp.Header.Get("Location")
		if resp.StatusCode < 300 || resp.StatusCode >= 400 || loc == "" {
			if f := findLoginForm(body); f != nil {
				b.form, b.page, l.LoginForm = f, u, true
			}
			return l
		}
		next, err := u.Parse(loc)
		if err != nil {
			return Landing{URL: u, Status: resp.StatusCode, Body: body, Err: err}
		}
		if strings.HasPrefix(next.String(), b.stop) {
			b.History = append(b.History, next)
			l.Redirect = next
			return l
		}
		// 307 and 308 repeat the request; the others continue with a GET.
		if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
			method, form = http.MethodGet, nil
		}
		u = next
	}
	return Landing{URL: u, Err: fmt.Errorf("more than %d redirects", maxRedirects)}
}

func (b *Browser) do(method string, u *url.URL, form url.Values) (*http.Response, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u.String(), body)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*")
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	page, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, "", err
	}
	return resp, string(page), nil
}

// String describes the landing for failure messages.
func (l Landing) String() string {
	switch {
	case l.Err != nil:
		return fmt.Sprintf("%v (at %s)", l.Err, l.URL)
	case l.Redirect != nil:
		return "redirect to " + l.Redirect.String()
	default:
		body := l.Body
		if len(body) > 2000 {
			body = body[:2000] + "..."
		}
		return fmt.Sprintf("%d from %s, login form %v:\n%s", l.Status, l.URL, l.LoginForm, body)
	}
}

// Cookies are the cookies the browser would send to rawURL (name and value
// only, as a cookie jar tells them).
func (b *Browser) Cookies(rawURL string) []*http.Cookie {
	return b.jar.Cookies(b.mustParse(rawURL))
}

// SetCookies stores cookies as if rawURL had set them (a cookie without a
// Path gets the directory of rawURL's path): to hand one browser's cookies
// to another.
func (b *Browser) SetCookies(rawURL string, cookies []*http.Cookie) {
	b.jar.SetCookies(b.mustParse(rawURL), cookies)
}

// DropCookie removes the host-only cookie name that the browser would send
// to rawURL, whatever path it was set with.
func (b *Browser) DropCookie(rawURL, name string) {
	u := b.mustParse(rawURL)
	// A cookie sent to u has a path that is a prefix of u's path ending at
	// a segment boundary; expiring name at each such path removes it.
	path := u.EscapedPath()
	for i := len(path); i > 0; i-- {
		if i == len(path) || path[i] == '/' || path[i-1] == '/' {
			b.expire(u, name, path[:i])
		}
	}
	b.expire(u, name, "/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == name {
			b.t.Fatalf("cookie %s for %s could not be dropped (a Domain cookie?)", name, rawURL)
		}
	}
}

func (b *Browser) expire(u *url.URL, name, path string) {
	gone := &http.Cookie{Name: name, Path: path, MaxAge: -1} //nolint:gosec // G124 is about cookies a server sets: this one only deletes from the jar
	b.jar.SetCookies(u, []*http.Cookie{gone})
}

func (b *Browser) mustParse(rawURL string) *url.URL {
	u, err := url.Parse(rawURL)
	if err != nil {
		b.t.Fatal(err)
	}
	if u.Host == "" {
		b.t.Fatal(errors.New("an absolute URL is needed: " + rawURL))
	}
	return u
}
