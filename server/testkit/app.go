package testkit

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
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
	// Deps are the parts the app was assembled from, for tests that look
	// underneath it (the database, the keys, the limits...).
	Deps server.Deps
	// Sealer seals and opens mail bodies as the app does (made from its keys).
	Sealer *mail.Sealer
	Logs   *LogBuffer
	Clock  *Clock
	// PrivateKeys is the private JWK set the app signs with, for forging tests.
	PrivateKeys []byte
	// DataKeys is the data key set file that seals the app's TOTP secrets
	// (AUTHD_DATA_KEYS_FILE), for SharedDataKeys and rotation tests.
	DataKeys []byte
	// Handler is the Echo app itself, for requests that must not go over HTTP.
	Handler http.Handler

	secrets *secretSet
}

// Option changes the parts of the app before it starts (server.Build).
type Option = server.Option

// testEnvironment is the configuration of every test app: authd's own
// defaults, for development, with what the tests need instead.
func testEnvironment(keysFile, dataKeysFile string) map[string]string {
	return map[string]string{
		"AUTHD_ENV":            config.EnvDevelopment,
		"AUTHD_JWT_KEYS_FILE":  keysFile,
		"AUTHD_DATA_KEYS_FILE": dataKeysFile,
		// Links and security headers as behind TLS, and one origin for CORS.
		"AUTHD_PUBLIC_URL":   "https://authd.example",
		"AUTHD_CORS_ORIGINS": "https://app.example.com",
		// The test client is a trusted proxy, so X-Forwarded-For can play
		// several clients.
		"AUTHD_TRUSTED_PROXIES": "127.0.0.1/32",
		// Tests run in parallel on few cores: a login may wait long for one
		// of the two hashing slots.
		"AUTHD_HASH_CONCURRENCY": "2",
		"AUTHD_HASH_MAX_WAIT":    "10s",
	}
}

// testConfig is testEnvironment parsed as authd parses its own.
func testConfig(t T, keysFile, dataKeysFile string) config.Config {
	t.Helper()
	cfg, err := config.Load(testEnvironment(keysFile, dataKeysFile))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// asInProduction undoes the development conveniences a test would notice:
// the public /readiness stays terse (ReadinessDetails asks for details).
var asInProduction Option = func(d *server.Deps) { d.HTTP.ReadinessDetails = false }

// FastHashing makes argon2id cheap so that suites with many logins stay
// fast; tests about hashing itself do not use it.
var FastHashing Option = func(d *server.Deps) {
	h, err := password.NewHasher(password.Params{Algorithm: "argon2id", MemoryKiB: 1024, Time: 1, Threads: 1, Concurrency: 4, MaxWait: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	d.Hasher = h
}

// SharedKeys makes the app sign, verify and seal with keyJSON, so that apps
// given the same set act as instances of one deployment.
func SharedKeys(keyJSON []byte) Option {
	return func(d *server.Deps) {
		keys, err := token.ParseKeys(keyJSON)
		if err != nil {
			panic(err)
		}
		d.Keys = keys
	}
}

// SharedDataKeys makes the app seal and open TOTP secrets with the data key
// set file, so that apps given the same file act as instances of one
// deployment (a factor enrolled on one verifies on another).
func SharedDataKeys(file []byte) Option {
	return func(d *server.Deps) {
		ring, err := datakeys.Parse(file)
		if err != nil {
			panic(err)
		}
		d.DataKeys = ring
	}
}

// NoLimits switches rate limits and the login backoff off.
var NoLimits Option = func(d *server.Deps) { d.Limits.Enabled = false }

// NewApp starts authd as server.Build makes it from the test configuration
// (unless opts say otherwise), and a client whose every response is checked
// against openapi.yaml.
func NewApp(t T, opts ...Option) *App {
	t.Helper()
	logs := &LogBuffer{}
	log := slog.New(server.ContextLogHandler{Handler: slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})})
	clock := &Clock{}
	keyJSON, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	// A generated data key file, as production has (development would
	// fall back to the fixed key): the start-up reads and checks it.
	dataKeys, err := datakeys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, keyFile(t, keyJSON), keyFile(t, dataKeys))
	pool := Pool(t)
	mig, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mig.Close() })
	var deps server.Deps
	opts = append(append([]Option{asInProduction}, opts...), func(d *server.Deps) { deps = *d })
	srv, err := server.Build(context.Background(), cfg, server.Base{Pool: pool, Migrations: mig, Log: log, Version: "test", Now: clock.Now}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := mail.NewSealer(deps.Keys.Secrets(mail.SecretLabel))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
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
	return &App{URL: hs.URL, Client: c, Server: srv, Deps: deps, Sealer: sealer, Logs: logs, Clock: clock,
		PrivateKeys: keyJSON, DataKeys: dataKeys, Handler: srv.Handler(), secrets: secrets}
}

// keyFile writes keyJSON where AUTHD_JWT_KEYS_FILE (or, given a data key
// set, AUTHD_DATA_KEYS_FILE) can name it, for as long as the test runs.
func keyFile(t T, keyJSON []byte) string {
	t.Helper()
	f, err := os.CreateTemp("", "authd-test-keys-*.json")
	if err == nil {
		_, err = f.Write(keyJSON)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Remove(f.Name()) })
	return f.Name()
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
