package server_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

func withLimits(edit func(l *server.Limits)) testkit.Option {
	return func(d *server.Deps) { edit(&d.Limits) }
}

func register(t *testing.T, app *testkit.App, edits ...client.RequestEditorFn) *client.RegisterResponse {
	t.Helper()
	resp, err := app.Client.RegisterWithResponse(context.Background(), testkit.RegisterBody(), edits...)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRateLimit_RegisterPerIP(t *testing.T) {
	t.Parallel()
	// 6 per hour: a burst of 3, then one every 15 minutes.
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) { l.Register = ratelimit.Limit{Rate: 6, Period: time.Hour} }))
	from := testkit.From("198.51.100.1")
	for i := range 3 {
		resp := register(t, app, from)
		if resp.StatusCode() != http.StatusCreated {
			t.Fatalf("registration %d: %d", i, resp.StatusCode())
		}
		h := resp.HTTPResponse.Header
		if h.Get("RateLimit-Policy") != `"register-address";q=5;w=3600, "register";q=6;w=3600` || !strings.HasPrefix(h.Get("RateLimit"), `"register`) {
			t.Errorf("headers: RateLimit-Policy %q, RateLimit %q", h.Get("RateLimit-Policy"), h.Get("RateLimit"))
		}
	}
	over := register(t, app, from)
	p := over.ApplicationproblemJSON429
	if p == nil {
		t.Fatalf("4th registration: %d, want 429", over.StatusCode())
	}
	if !strings.HasSuffix(p.Type, "/rate-limited") || over.HTTPResponse.Header.Get("Retry-After") != "900" ||
		over.HTTPResponse.Header.Get("RateLimit") != `"register";r=0;t=2700` {
		t.Errorf("429: type %s, Retry-After %q, RateLimit %q", p.Type, over.HTTPResponse.Header.Get("Retry-After"), over.HTTPResponse.Header.Get("RateLimit"))
	}
	if got := register(t, app, testkit.From("198.51.100.2")).StatusCode(); got != http.StatusCreated {
		t.Errorf("another client: %d, want 201", got)
	}
	app.Clock.Advance(15 * time.Minute) // one refill
	if got := register(t, app, from).StatusCode(); got != http.StatusCreated {
		t.Errorf("after the budget refilled: %d, want 201", got)
	}
}

func TestRateLimit_LoginPerIPAndEmail(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.Login = ratelimit.Limit{Rate: 4, Period: time.Minute}   // a burst of 2
		l.LoginIP = ratelimit.Limit{Rate: 6, Period: time.Minute} // a burst of 3
	}))
	u, _ := app.NewUser(t)
	login := func(email, ip string) int {
		resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(email), testkit.From(ip))
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode()
	}
	statuses := []int{login(u.Email, "203.0.113.9"), login(u.Email, "203.0.113.9"), login(u.Email, "203.0.113.9")}
	if statuses[0] != 200 || statuses[1] != 200 || statuses[2] != http.StatusTooManyRequests {
		t.Errorf("same client and email: %v, want 200 200 429", statuses)
	}
	if got := login(testkit.UniqueEmail(), "203.0.113.9"); got != http.StatusUnauthorized {
		t.Errorf("same client, other email: %d, want 401 (the refused attempt was not charged to the client)", got)
	}
	if got := login(testkit.UniqueEmail(), "203.0.113.9"); got != http.StatusTooManyRequests {
		t.Errorf("4th attempt from one client: %d, want 429", got)
	}
	if got := login(u.Email, "203.0.113.10"); got != http.StatusOK {
		t.Errorf("the user from another client: %d, want 200", got)
	}
}

func TestRateLimit_RefreshPerIP(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) { l.Refresh = ratelimit.Limit{Rate: 1, Period: time.Minute} })) // a burst of 1
	_, pair := app.NewUser(t)
	ctx := context.Background()
	first := testkit.Must(app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken}))(t)
	second := testkit.Must(app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: first.JSON200.RefreshToken}))(t)
	if first.StatusCode() != 200 || second.StatusCode() != http.StatusTooManyRequests {
		t.Errorf("statuses %d %d, want 200 429", first.StatusCode(), second.StatusCode())
	}
}

func TestRateLimit_DisabledSwitchesEveryLimitOff(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, withLimits(func(l *server.Limits) {
		l.Register = ratelimit.Limit{Rate: 1, Period: time.Hour}
		l.BackoffAfter = 1
	}))
	for range 3 {
		if got := register(t, app).StatusCode(); got != http.StatusCreated {
			t.Fatalf("with limits off: %d", got)
		}
	}
	email := testkit.UniqueEmail()
	app.Register(t, email, testkit.Password)
	for range 4 {
		resp := testkit.Must(app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: "Wrong-Horse-8"}))(t)
		if resp.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("wrong password with limits off: %d, want 401 every time", resp.StatusCode())
		}
	}
	if c := app.DetailedReadiness(t).Checks["rate_limiter"]; c.Detail == nil || *c.Detail != "disabled" {
		t.Errorf("rate_limiter check = %+v", c)
	}
}

// testRedisOptions are the client options of the test Redis
// (TEST_REDIS_URL, else the local server).
func testRedisOptions(t *testing.T) *redis.Options {
	t.Helper()
	url := os.Getenv("TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	return opts
}

// testRedisClient is a client of the test Redis, closed after the test.
func testRedisClient(t *testing.T, opts *redis.Options) *redis.Client {
	t.Helper()
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis at %s: %v", opts.Addr, err)
	}
	return c
}

func redisStore(t *testing.T, prefix string) *ratelimit.Redis {
	t.Helper()
	return ratelimit.NewRedis(testRedisClient(t, testRedisOptions(t)), prefix)
}

func TestRateLimit_RedisDownFallsBackAndSaysSo(t *testing.T) {
	t.Parallel()
	dead := ratelimit.NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1}), "x:")
	var store *ratelimit.Fallback
	app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) {
		store = ratelimit.NewFallback(dead, ratelimit.NewMemory(time.Now), time.Second, time.Minute, d.Log)
		d.Limits.Store = store
		d.Limits.Register = ratelimit.Limit{Rate: 4, Period: time.Hour} // a burst of 2
	})
	got := []int{register(t, app).StatusCode(), register(t, app).StatusCode(), register(t, app).StatusCode()}
	if got[0] != 201 || got[1] != 201 || got[2] != http.StatusTooManyRequests {
		t.Errorf("with Redis down: %v, want 201 201 429 from the in-memory stand-in", got)
	}
	ready, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if ready.JSON200 == nil {
		t.Fatalf("readiness %d: a Redis outage must not make authd unready", ready.StatusCode())
	}
	if c := app.DetailedReadiness(t).Checks["rate_limiter"]; c.Status != "degraded" {
		t.Errorf("rate_limiter check = %+v, want degraded", c)
	}
	if len(app.Logs.Lines("shared store unreachable")) != 1 {
		t.Errorf("the fallback was not logged once:\n%s", app.Logs.String())
	}
}
