package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

// faultyDatabase is a database of the test's own that the app reaches
// through a fault proxy. Its own database keeps other tests' rows, and
// other tests' pruning with an advanced clock, out of what the fault test
// checks.
type faultyDatabase struct {
	proxy  *testkit.FaultProxy
	pool   *pgxpool.Pool // the app's, through the proxy
	direct *pgxpool.Pool // the same database, not through the proxy
	option testkit.Option
}

func throughProxy(t *testing.T, s database.BreakerSettings) faultyDatabase {
	t.Helper()
	ctx := context.Background()
	direct := testkit.IsolatedDatabaseURL(t)
	u, err := url.Parse(direct)
	if err != nil {
		t.Fatal(err)
	}
	f := faultyDatabase{proxy: testkit.NewFaultProxy(t, u.Host)}
	u.Host = f.proxy.Addr()
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	if f.pool, err = pgxpool.New(ctx, u.String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.pool.Close)
	if f.direct, err = pgxpool.New(ctx, direct); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.direct.Close)
	f.option = func(d *server.Deps) { d.DB = database.NewResilient(f.pool, s, d.Log) }
	return f
}

func getMe(t *testing.T, app *testkit.App, access string) *client.GetMeResponse {
	t.Helper()
	resp, err := app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func readinessStatus(t *testing.T, app *testkit.App) int {
	t.Helper()
	resp, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode()
}

func TestFaults_SlowDatabaseTimesOutInto503AndOpensTheBreaker(t *testing.T) {
	t.Parallel()
	// The deadline leaves the set-up's statements room on a loaded machine
	// (300 ms did not under -race); the delay is well beyond it.
	db := throughProxy(t, database.BreakerSettings{Failures: 3, OpenFor: time.Minute, Successes: 1, QueryTimeout: 2 * time.Second})
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, db.option)
	_, pair := app.NewUser(t)

	db.proxy.SetDelay(5 * time.Second)
	for i := range 4 { // three timeouts open the breaker; the fourth is refused at once
		resp := getMe(t, app, pair.AccessToken)
		if resp.ApplicationproblemJSON503 == nil {
			t.Fatalf("request %d with a 5 s database: status %d, want a 503 problem: %s", i, resp.StatusCode(), resp.Body)
		}
	}
	if got := readinessStatus(t, app); got != http.StatusServiceUnavailable {
		t.Errorf("readiness with the breaker open: %d, want 503", got)
	}
	if lines := app.Logs.Lines("circuit breaker", `"to":"open"`); len(lines) == 0 {
		t.Errorf("no log line says the breaker opened:\n%s", app.Logs)
	}
}

func TestFaults_ResetsMidTransactionLoseNothingAcknowledged(t *testing.T) {
	t.Parallel()
	// The breaker stays closed here so that every request meets the resets.
	db := throughProxy(t, database.BreakerSettings{Failures: 1 << 20, OpenFor: time.Second, Successes: 1, QueryTimeout: 3 * time.Second})
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, db.option)
	ctx := context.Background()
	const workers, rounds = 4, 12

	type outcome struct {
		registered map[string]int // email: status
		latest     string         // the last refresh token acknowledged with 200
		statuses   []int
	}
	outcomes := make([]*outcome, workers)
	for w := range outcomes {
		_, pair := app.NewUser(t)
		outcomes[w] = &outcome{registered: map[string]int{}, latest: pair.RefreshToken}
	}

	stop := make(chan struct{})
	resetterDone := make(chan struct{})
	go func() {
		defer close(resetterDone)
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond): // the fault rate, not synchronisation
				db.proxy.ResetAll()
			}
		}
	}()
	var wg sync.WaitGroup
	for _, o := range outcomes {
		wg.Go(func() {
			for range rounds {
				email := testkit.UniqueEmail()
				reg, err := app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password})
				if err != nil {
					t.Error(err)
					return
				}
				o.registered[email] = reg.StatusCode()
				ref, err := app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: o.latest})
				if err != nil {
					t.Error(err)
					return
				}
				if ref.JSON200 != nil {
					o.latest = ref.JSON200.RefreshToken
				}
				o.statuses = append(o.statuses, reg.StatusCode(), ref.StatusCode())
			}
		})
	}
	wg.Wait()
	close(stop)
	<-resetterDone
	db.pool.Reset() // drop connections the last resets broke, as time would

	count := map[int]int{}
	var emails []string
	for _, o := range outcomes {
		for _, s := range o.statuses {
			count[s]++
		}
		for email := range o.registered {
			emails = append(emails, email)
		}
	}
	t.Logf("statuses under resets: %v", count)
	for s := range count {
		if s != http.StatusOK && s != http.StatusCreated && s != http.StatusServiceUnavailable {
			t.Errorf("%d responses with status %d; want only 200, 201 and 503", count[s], s)
		}
	}
	if count[http.StatusServiceUnavailable] == 0 {
		t.Errorf("no request met a reset: the test injected no fault")
	}

	for _, o := range outcomes {
		for email, status := range o.registered {
			var users int
			if err := db.direct.QueryRow(ctx, "SELECT count(*) FROM users WHERE email = $1", email).Scan(&users); err != nil {
				t.Fatal(err)
			}
			if status == http.StatusCreated && users != 1 {
				t.Errorf("%s was acknowledged with 201 but has %d rows", email, users)
			}
		}
		// The last acknowledged token (or its grace successor, if a refused
		// rotation did commit) still continues the one chain. A 503 loses
		// nothing (a client retries it), so it is retried a few times; what
		// this asserts is that no answer ends the chain.
		r := refresh(t, app, o.latest)
		for retries := 0; r.StatusCode() == http.StatusServiceUnavailable && retries < 3; retries++ {
			t.Logf("a refresh after the resets was refused with 503: %q", app.Logs.Lines(r.HTTPResponse.Header.Get(echo.HeaderXRequestID)))
			r = refresh(t, app, o.latest)
		}
		if r.JSON200 == nil {
			t.Errorf("the last acknowledged refresh token no longer rotates: %d %s\nits log: %q",
				r.StatusCode(), r.Body, app.Logs.Lines(r.HTTPResponse.Header.Get(echo.HeaderXRequestID)))
		}
	}
	// A registration is its user and its event, or neither.
	var halves int
	err := db.direct.QueryRow(ctx, `
		SELECT count(*) FROM users u WHERE u.email = ANY($1)
		  AND NOT EXISTS (SELECT 1 FROM security_events e WHERE e.user_id = u.id AND e.kind = 'registered')`, emails).Scan(&halves)
	if err != nil {
		t.Fatal(err)
	}
	if halves != 0 {
		t.Errorf("%d users without their registration event", halves)
	}
}

func TestFaults_RecoversByItselfAfterAnOutage(t *testing.T) {
	t.Parallel()
	db := throughProxy(t, database.BreakerSettings{Failures: 3, OpenFor: 500 * time.Millisecond, Successes: 1, QueryTimeout: 2 * time.Second})
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, db.option)
	_, pair := app.NewUser(t)

	// Ten seconds without a database, with a request every quarter second:
	// each is a 503 problem, and the breaker's probes fail and reopen it.
	db.proxy.SetDown(true)
	outage := time.NewTimer(10 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	requests := 0
	for down := true; down; {
		select {
		case <-outage.C:
			down = false
		case <-tick.C:
			if resp := getMe(t, app, pair.AccessToken); resp.ApplicationproblemJSON503 == nil {
				t.Fatalf("request %d with the database unreachable: %d, want a 503 problem", requests, resp.StatusCode())
			}
			requests++
		}
	}
	if got := readinessStatus(t, app); got != http.StatusServiceUnavailable {
		t.Fatalf("readiness during the outage: %d, want 503", got)
	}
	if reopened := len(app.Logs.Lines("circuit breaker", `"from":"half-open","to":"open"`)); reopened < 2 {
		t.Errorf("%d failed probes during a 10 s outage, want several:\n%s", reopened, app.Logs)
	}
	t.Logf("%d requests during the outage, all 503", requests)

	db.proxy.SetDown(false)
	// The breaker waits OpenFor before it lets a probe through; poll until
	// it has closed again, with no restart and no help.
	testkit.WaitUntil(t, 30*time.Second, 100*time.Millisecond, func() bool { return readinessStatus(t, app) == http.StatusOK },
		func() string { return fmt.Sprintf("not ready 30 s after the database came back:\n%s", app.Logs) })
	if resp := getMe(t, app, pair.AccessToken); resp.JSON200 == nil {
		t.Errorf("GET /users/me after recovery: %d, want 200", resp.StatusCode())
	}
	for _, step := range []string{`"from":"open","to":"half-open"`, `"from":"half-open","to":"closed"`} {
		if lines := app.Logs.Lines("circuit breaker", step); len(lines) == 0 {
			t.Errorf("no log line says the breaker went %s:\n%s", step, app.Logs)
		}
	}
}
