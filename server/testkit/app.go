package testkit

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/token"
)

// App is a running authd on a loopback port, backed by the test database.
type App struct {
	URL    string
	Client *client.ClientWithResponses
	Server *server.Server
	Logs   *LogBuffer
	Clock  *Clock
	// PrivateKeys is the private JWK set the app signs with, for forging tests.
	PrivateKeys []byte
	// Handler is the Echo app itself, for requests that must not go over HTTP.
	Handler http.Handler

	secrets *secretSet
}

// defaultBreaker is the breaker of every test app, unless an option swaps
// the database.
var defaultBreaker = database.BreakerSettings{Failures: 5, OpenFor: 10 * time.Second, Successes: 2, QueryTimeout: 3 * time.Second}

// Option changes the dependencies before the app starts.
type Option func(*server.Deps)

// FastHashing makes argon2id cheap so that suites with many logins stay
// fast; tests about hashing itself do not use it.
var FastHashing Option = func(d *server.Deps) {
	h, err := password.NewHasher(password.Params{Algorithm: "argon2id", MemoryKiB: 1024, Time: 1, Threads: 1, Concurrency: 4, MaxWait: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	d.Hasher = h
}

// DefaultLimits are the production defaults of the rate limits, on store.
func DefaultLimits(store ratelimit.Store) server.Limits {
	limit := func(s string) ratelimit.Limit {
		l, err := ratelimit.ParseLimit(s)
		if err != nil {
			panic(err)
		}
		return l
	}
	return server.Limits{
		Enabled: true, Store: store,
		Register: limit("20/1h"), Login: limit("10/1m"), LoginIP: limit("100/1m"), Refresh: limit("60/1m"),
		FailedLogins: limit("100/1h"), BackoffAfter: 5, BackoffBase: time.Second, BackoffMax: 15 * time.Minute,
		MailIP: limit("20/1h"), MailAddress: limit("5/1h"), Token: limit("30/1m"), MailThrottle: limit("1/1m"),
	}
}

// SharedKeys makes the app sign, verify and seal with keyJSON, so that apps
// given the same set act as instances of one deployment.
func SharedKeys(keyJSON []byte) Option {
	return func(d *server.Deps) {
		keys, err := token.ParseKeys(keyJSON)
		if err != nil {
			panic(err)
		}
		sealer, err := mail.NewSealer(keys.Secrets(mail.SecretLabel))
		if err != nil {
			panic(err)
		}
		d.Keys, d.Mail.Sealer = keys, sealer
		d.Tokens = token.NewAuthority(keys, "authd", "authd", 15*time.Minute, 30*time.Second, d.Now)
	}
}

// NoLimits switches rate limits and the login backoff off.
var NoLimits Option = func(d *server.Deps) { d.Limits.Enabled = false }

// NewApp starts authd with production defaults (unless opts say otherwise)
// and a client whose every response is checked against openapi.yaml.
func NewApp(t T, opts ...Option) *App {
	t.Helper()
	logs := &LogBuffer{}
	log := slog.New(server.ContextLogHandler{Handler: slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	clock := &Clock{}
	keyJSON, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.ParseKeys(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	hasher, err := password.NewHasher(password.Params{Algorithm: "argon2id", MemoryKiB: 19456, Time: 2, Threads: 1, Concurrency: 2, MaxWait: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	renderer, err := mail.NewRenderer("")
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := mail.NewSealer(keys.Secrets(mail.SecretLabel))
	if err != nil {
		t.Fatal(err)
	}
	pool := Pool(t)
	mig, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mig.Close() })
	deps := server.Deps{
		DB:           database.NewResilient(pool, defaultBreaker, log),
		Migrations:   mig,
		Hasher:       hasher,
		Tokens:       token.NewAuthority(keys, "authd", "authd", 15*time.Minute, 30*time.Second, clock.Now),
		Keys:         keys,
		Log:          log,
		Version:      "test",
		SessionTTL:   30 * 24 * time.Hour,
		RefreshRetry: 5 * time.Minute,
		Policy:       password.Policy{Name: password.PolicyDefault},
		Limits:       DefaultLimits(ratelimit.NewMemory(clock.Now)),
		Mail: server.MailOptions{
			Renderer: renderer, Sealer: sealer, PublicURL: "https://authd.example", LinkTemplate: "{public_url}/{action}?token={token}",
			VerifyTTL: 24 * time.Hour, ResetTTL: time.Hour, ChangeTTL: 24 * time.Hour,
		},
		// The test client is a trusted proxy, so X-Forwarded-For can play
		// several clients.
		HTTP: server.HTTPOptions{RequestTimeout: 10 * time.Second, CORSOrigins: []string{"https://app.example.com"}, TrustedProxies: []string{"127.0.0.1/32"}},
		Now:  clock.Now,
	}
	for _, o := range opts {
		o(&deps)
	}
	srv := server.New(deps)
	e, err := srv.Handler()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(e)
	secrets := &secretSet{}
	t.Cleanup(func() {
		hs.Close()
		secrets.assertAbsent(t, logs.String())
	})
	c, err := client.NewClientWithResponses(hs.URL, client.WithHTTPClient(&http.Client{
		Transport: &validatingTransport{t: t, router: specRouter(t), next: http.DefaultTransport, secrets: secrets},
		Timeout:   30 * time.Second,
	}))
	if err != nil {
		t.Fatal(err)
	}
	return &App{URL: hs.URL, Client: c, Server: srv, Logs: logs, Clock: clock, PrivateKeys: keyJSON, Handler: e, secrets: secrets}
}

func init() {
	ratelimit.LogRedisTo(slog.New(slog.DiscardHandler))
	// The client checks these documents as opaque text, as the spec describes them.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.FileBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/yaml", openapi3filter.FileBodyDecoder)
}

var specOnce struct {
	sync.Once
	router routers.Router
	err    error
}

func specRouter(t T) routers.Router {
	specOnce.Do(func() {
		spec, err := authd.LoadSpec()
		if err != nil {
			specOnce.err = err
			return
		}
		spec.Servers = nil
		specOnce.router, specOnce.err = gorillamux.NewRouter(spec)
	})
	if specOnce.err != nil {
		t.Fatal(specOnce.err)
	}
	return specOnce.router
}

// validatingTransport fails the test when a response does not match the
// spec: its status must be documented, its headers and body must fit.
type validatingTransport struct {
	t       T
	router  routers.Router
	next    http.RoundTripper
	secrets *secretSet
}

func (v *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		reqBody, _ = io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	// Client-side request validation: a request the contract rejects must
	// not be accepted by the server either.
	specRejects := false
	route, params, routeErr := v.router.FindRoute(req)
	if routeErr == nil {
		check := req.Clone(req.Context())
		check.Body = io.NopCloser(bytes.NewReader(reqBody))
		specRejects = openapi3filter.ValidateRequest(req.Context(), &openapi3filter.RequestValidationInput{
			Request: check, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		}) != nil
	}
	resp, err := v.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if specRejects && resp.StatusCode < 400 {
		v.t.Errorf("%s %s: the server answered %d to a request openapi.yaml rejects", req.Method, req.URL.Path, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	v.secrets.harvest(req, reqBody, body)
	if routeErr != nil {
		return resp, nil // outside the spec (404s, assets): nothing to hold it to
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		v.t.Errorf("%s %s -> %d does not match openapi.yaml: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	if resp.Header.Get("X-Request-ID") == "" {
		v.t.Errorf("%s %s -> %d has no X-Request-ID", req.Method, req.URL.Path, resp.StatusCode)
	}
	return resp, nil
}

// LogBuffer collects log output safely across goroutines.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Lines returns the log lines that contain every one of substrs.
func (l *LogBuffer) Lines(substrs ...string) []string {
	var out []string
	for _, line := range strings.Split(l.String(), "\n") {
		ok := line != ""
		for _, s := range substrs {
			ok = ok && strings.Contains(line, s)
		}
		if ok {
			out = append(out, line)
		}
	}
	return out
}

// Clock is the app's clock: real time shifted by an offset tests can move.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now is the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
