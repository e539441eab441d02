package server_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// latency is what every limiter round trip costs in these tests: enough for
// requests that arrive together to overlap inside the limiter.
const latency = 300 * time.Microsecond

// slowStore adds latency to every call of a store, as a network would.
type slowStore struct{ ratelimit.Store }

func (s slowStore) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	time.Sleep(latency) // injected latency, not synchronisation
	return s.Store.Allow(ctx, key, l)
}

func (s slowStore) AllowAll(ctx context.Context, checks []ratelimit.Check) ([]ratelimit.Result, error) {
	time.Sleep(latency)
	return s.Store.AllowAll(ctx, checks)
}

// slowRedis is a Redis store reached through a TCP proxy that delays every
// command.
func slowRedis(t *testing.T) ratelimit.Store {
	opts := testRedisOptions(t)
	proxy := testkit.NewFaultProxy(t, opts.Addr)
	proxy.SetDelay(latency)
	opts.Addr = proxy.Addr()
	return ratelimit.NewRedis(testRedisClient(t, ratelimit.ClientOptions(opts)), "authd-test:"+rand.Text()+":")
}

// limitedCall sends one request of an endpoint family from the client
// that from names.
type limitedCall func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error)

// limitedFamilies are the endpoint families behind per-request limits; each
// gets a budget with a burst of 2 in TestRateLimit_ConcurrentRequestsAdmitAtMostTheBurst.
func limitedFamilies(t *testing.T, app *testkit.App) map[string]limitedCall {
	c := app.Client
	_, pair := app.NewUser(t)
	me := testkit.Bearer(pair.AccessToken)
	_, other := app.NewUser(t) // DELETE shares PUT's budget; this is another user's
	otherMe := testkit.Bearer(other.AccessToken)
	victim := testkit.UniqueEmail()
	return map[string]limitedCall{
		"register": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.Register(ctx, testkit.RegisterBody(), from)
		},
		"login": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.Login(ctx, client.LoginRequest{Email: victim, Password: "Wrong-Horse-8"}, from)
		},
		"refresh": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.RefreshToken(ctx, client.RefreshRequest{RefreshToken: "not-a-token"}, from)
		},
		"forgot": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.ForgotPassword(ctx, client.EmailRequest{Email: testkit.UniqueEmail()}, from)
		},
		"resend": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.ResendVerification(ctx, client.EmailRequest{Email: testkit.UniqueEmail()}, from)
		},
		"token": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.VerifyEmail(ctx, client.VerifyEmailRequest{Token: "not-a-token", Password: "Wrong-Horse-8"}, from)
		},
		"update-me": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.UpdateMe(ctx, client.UpdateUserRequest{CurrentPassword: "Wrong-Horse-8", Password: ptr("Other-Horse-9")}, me, from)
		},
		"delete-me": func(ctx context.Context, from client.RequestEditorFn) (*http.Response, error) {
			return c.DeleteMe(ctx, nil, client.DeleteUserRequest{CurrentPassword: ptr("Wrong-Horse-8")}, otherMe, from)
		},
	}
}

// TestRateLimit_ConcurrentRequestsAdmitAtMostTheBurst: requests that arrive
// together, with every limiter call slowed down, must not get past a budget
// more often than its burst allows, on either store.
func TestRateLimit_ConcurrentRequestsAdmitAtMostTheBurst(t *testing.T) {
	t.Parallel()
	stores := map[string]func(t *testing.T) ratelimit.Store{
		"redis":  slowRedis,
		"memory": func(*testing.T) ratelimit.Store { return slowStore{ratelimit.NewMemory(time.Now)} },
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			budget := ratelimit.Limit{Rate: 4, Period: time.Hour} // a burst of 2
			app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) {
				l := &d.Limits
				l.Store = store(t)
				l.Register, l.Login, l.LoginIP, l.Refresh, l.Token = budget, budget, budget, budget, budget
				l.MailIP, l.MailAddress = budget, budget
				l.BackoffAfter = 1000 // only the request limits are under test
			})
			k := 0
			for family, call := range limitedFamilies(t, app) {
				k++
				if admitted := flood(t, call, testkit.From(fmt.Sprintf("198.51.100.%d", k))); admitted > 2 {
					t.Errorf("%s: %d of %d concurrent requests passed a budget with a burst of 2", family, admitted, floodSize)
				}
			}
		})
	}
}

const floodSize = 20

// flood sends floodSize requests at once and counts those the request
// limiter let through.
func flood(t *testing.T, call limitedCall, from client.RequestEditorFn) int {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	start := make(chan struct{})
	for range floodSize {
		wg.Go(func() {
			<-start
			resp, err := call(context.Background(), from)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			if !refusedByLimiter(t, resp) {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	return admitted
}

// refusedByLimiter reports whether a response is the request limiter's 429
// (the login backoff's 429 comes after it and counts as admitted).
func refusedByLimiter(t *testing.T, resp *http.Response) bool {
	if resp.StatusCode != http.StatusTooManyRequests {
		return false
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
	}
	var p struct{ Type string }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Errorf("429 body %q: %v", body, err)
	}
	return strings.HasSuffix(p.Type, "/rate-limited")
}
