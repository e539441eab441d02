package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
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

// addressKinds makes, on a database of its own, an address of each kind
// a caller could probe: a verified account, an account from before
// verification was required (unverified), a deactivated account, a pending
// registration and nothing. It returns the app (verification required, on
// database, with opts) and the addresses by kind.
func addressKinds(t *testing.T, database testkit.Option, opts ...testkit.Option) (*testkit.App, map[string]string) {
	t.Helper()
	ctx := context.Background()
	before := testkit.NewApp(t, testkit.FastHashing, database, testkit.NoLimits) // verification not yet required
	app := testkit.NewApp(t, append([]testkit.Option{testkit.FastHashing, database, requireVerified}, opts...)...)
	active, _ := before.NewUser(t)
	if _, err := app.Deps.DB.Queries().MarkEmailVerified(ctx, db.MarkEmailVerifiedParams{ID: active.Id, Now: app.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	legacy, _ := before.NewUser(t)
	inactive, pair := before.NewUser(t)
	if r, err := before.Client.DeleteMeWithResponse(ctx, nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("deactivate: %v %v", r, err)
	}
	pending := testkit.UniqueEmail()
	if r, err := app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: pending, Password: testkit.Password}); err != nil || r.StatusCode() != http.StatusAccepted {
		t.Fatalf("register: %v %v", r, err)
	}
	app.Clock.Advance(time.Hour) // past every mail throttle and budget spent so far
	return app, map[string]string{
		"active": active.Email, "legacy": legacy.Email, "inactive": inactive.Email,
		"pending": pending, "unknown": testkit.UniqueEmail(),
	}
}

// probes are the requests whose work must not tell what an address is,
// sent by a stranger: a client that has never logged in to any account.
func probes(app *testkit.App) map[string]func(email string) (*http.Response, error) {
	ctx, stranger := context.Background(), testkit.From("198.51.100.77")
	return map[string]func(email string) (*http.Response, error){
		"forgot": func(email string) (*http.Response, error) {
			return app.Client.ForgotPassword(ctx, client.EmailRequest{Email: email}, stranger)
		},
		"resend": func(email string) (*http.Response, error) {
			return app.Client.ResendVerification(ctx, client.EmailRequest{Email: email}, stranger)
		},
		"register": func(email string) (*http.Response, error) {
			return app.Client.Register(ctx, client.RegisterRequest{Email: email, Password: "Probe-Horse-3"}, stranger)
		},
		"login": func(email string) (*http.Response, error) {
			return app.Client.Login(ctx, client.LoginRequest{Email: email, Password: "Probe-Horse-3"}, stranger)
		},
	}
}

// TestMailFlows_SpendTheSameLimiterCallsForEveryAddress: a limiter round
// trip made only for real accounts (or pending registrations) would time
// apart the addresses that have one.
func TestMailFlows_SpendTheSameLimiterCallsForEveryAddress(t *testing.T) {
	t.Parallel()
	store := &countingStore{Store: ratelimit.NewMemory(time.Now)}
	app, addrs := addressKinds(t, testkit.IsolatedDatabase(t), func(d *server.Deps) { d.Limits.Store = store })
	for flow, send := range probes(app) {
		calls := map[string]string{}
		for kind, email := range addrs {
			calls[kind] = store.during(func() {
				resp, err := send(email)
				if err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
					t.Fatalf("%s for the %s address: %v %v", flow, kind, resp, err)
				}
				resp.Body.Close()
			})
		}
		for _, c := range calls {
			if c != calls["unknown"] {
				t.Errorf("%s: limiter calls differ: %v", flow, calls)
				break
			}
		}
	}
}

// TestMailFlows_DoTheSameDatabaseWorkForEveryAddress: a statement run only
// for real accounts (or pending registrations) would time them apart. The
// house's decoys stand for what they replace: a decoy mail (written and
// dropped in its transaction) for a queued one, a decoy event for a
// recorded one.
func TestMailFlows_DoTheSameDatabaseWorkForEveryAddress(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	app, addrs := addressKinds(t, testkit.Traced(t, tp))
	for flow, send := range probes(app) {
		if flow == "forgot" {
			continue // issues a reset token for accounts only; not covered here
		}
		work := map[string]string{}
		for kind, email := range addrs {
			spans.Reset()
			resp, err := send(email)
			if err != nil || resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
				t.Fatalf("%s for the %s address: %v %v", flow, kind, resp, err)
			}
			resp.Body.Close()
			_ = tp.ForceFlush(context.Background())
			work[kind] = statements(spans.GetSpans())
		}
		for kind := range addrs {
			if work[kind] != work["unknown"] {
				t.Errorf("%s: the database work for the %s address differs from an unknown one's:\n%s:  %s\nunknown: %s", flow, kind, kind, work[kind], work["unknown"])
			}
		}
	}
}

// statements lists the queries among spans in order, by their sqlc names,
// each decoy named as what it stands for. Statement preparations (a
// connection's first use of a query) are left out: they follow the pool,
// not the address.
func statements(spans tracetest.SpanStubs) string {
	stands := map[string]string{"EnqueueDecoy": "EnqueueMail", "DropDecoy": "", "DecoyEvent": "RecordEvent"}
	var out []string
	for _, s := range spans {
		name, prepare := s.Name, false
		for _, a := range s.Attributes {
			if v := a.Value.String(); strings.HasPrefix(v, "-- name: ") {
				name = strings.Fields(v)[2]
			}
			prepare = prepare || a.Key == "pgx.prepare_stmt.name"
		}
		if n, ok := stands[name]; ok {
			name = n
		}
		if prepare || name == "" || name == "pool.acquire" || strings.HasPrefix(name, "POST ") {
			continue
		}
		out = append(out, name)
	}
	return strings.Join(out, " | ")
}
