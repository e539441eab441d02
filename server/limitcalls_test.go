package server_test

import (
	"context"
	"fmt"
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

// countingStore records the shape of every call to a limit store: which
// method and how many budgets, never the keys (they hold the address).
type countingStore struct {
	ratelimit.Store
	mu    sync.Mutex
	calls []string
}

func (s *countingStore) Allow(ctx context.Context, key string, l ratelimit.Limit) (ratelimit.Result, error) {
	s.record("Allow")
	return s.Store.Allow(ctx, key, l)
}

func (s *countingStore) AllowAll(ctx context.Context, checks []ratelimit.Check) ([]ratelimit.Result, error) {
	s.record(fmt.Sprintf("AllowAll(%d)", len(checks)))
	return s.Store.AllowAll(ctx, checks)
}

func (s *countingStore) record(call string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
}

// during returns the calls that do made.
func (s *countingStore) during(do func()) string {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
	do()
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.calls, " ")
}

// TestMailFlows_SpendTheSameLimiterCallsForEveryAddress: a limiter round
// trip made only for real accounts (or pending registrations) would time
// apart the addresses that have one.
func TestMailFlows_SpendTheSameLimiterCallsForEveryAddress(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: ratelimit.NewMemory(time.Now)}
	app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) { d.Limits.Store = store })
	active, _ := app.NewUser(t)
	inactive, pair := app.NewUser(t)
	if r, err := app.Client.DeleteMeWithResponse(context.Background(), client.DeleteUserRequest{CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("deactivate: %v %v", r, err)
	}
	flows := map[string]func(email string) (*http.Response, error){
		"forgot": func(email string) (*http.Response, error) {
			return app.Client.ForgotPassword(context.Background(), client.EmailRequest{Email: email})
		},
		"resend": func(email string) (*http.Response, error) {
			return app.Client.ResendVerification(context.Background(), client.EmailRequest{Email: email})
		},
	}
	for flow, send := range flows {
		calls := map[string]string{}
		for name, email := range map[string]string{"active": active.Email, "inactive": inactive.Email, "unknown": testkit.UniqueEmail()} {
			calls[name] = store.during(func() {
				resp, err := send(email)
				if err != nil || resp.StatusCode != http.StatusAccepted {
					t.Fatalf("%s for the %s account: %v %v", flow, name, resp, err)
				}
				resp.Body.Close()
			})
		}
		if calls["active"] != calls["unknown"] || calls["inactive"] != calls["unknown"] {
			t.Errorf("%s: limiter calls differ: %v", flow, calls)
		}
	}
}
