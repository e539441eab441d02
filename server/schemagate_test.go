package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

// With AUTHD_AUTO_MIGRATE=false on a database that is behind, authd serves
// only the probes, says so once, and its jobs wait quietly; once the schema
// is migrated it serves, and the jobs start.
func TestSchemaBehind_ServesOnlyProbesAndJobsWait(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	reads := make(chan struct{}, 64)
	var mig *database.Migrator
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t),
		func(d *server.Deps) {
			d.SchemaMayLag = true
			mig = d.Migrations.(*database.Migrator)
			d.Migrations = versionReads{mig, reads}
		})
	if err := mig.Down(ctx); err != nil {
		t.Fatal(err)
	}
	jobsCtx, stopJobs := context.WithCancel(ctx)
	jobsDone := make(chan struct{})
	go func() { app.Server.RunJobs(jobsCtx); close(jobsDone) }()
	t.Cleanup(func() { stopJobs(); <-jobsDone })

	status := func(method, path, body string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, app.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode
	}
	login := func() int {
		return status(http.MethodPost, "/auth/login", `{"email":"nobody@example.com","password":"not the password"}`)
	}
	register := func() int {
		return status(http.MethodPost, "/auth/register", `{"email":"new@example.com","password":"Correct-Horse-Battery-8"}`)
	}

	if got := status(http.MethodGet, "/health", ""); got != http.StatusOK {
		t.Errorf("/health = %d, want 200", got)
	}
	if got := status(http.MethodGet, "/readiness", ""); got != http.StatusServiceUnavailable {
		t.Errorf("/readiness = %d, want 503", got)
	}
	for range 3 {
		if got := login(); got != http.StatusServiceUnavailable {
			t.Errorf("login while behind = %d, want 503", got)
		}
	}
	// Let the waiting jobs read the version a few more times, then look
	// at what they logged.
	for len(reads) > 0 {
		<-reads
	}
	for range 3 {
		select {
		case <-reads:
		case <-time.After(30 * time.Second):
			t.Fatal("the waiting jobs stopped reading the schema version")
		}
	}
	if n := len(app.Logs.Lines("database schema is behind")); n != 1 {
		t.Errorf("%d 'schema is behind' lines, want 1:\n%s", n, app.Logs.String())
	}
	for _, quiet := range []string{"does not exist", "request failed", "request refused"} {
		if lines := app.Logs.Lines(quiet); len(lines) > 0 {
			t.Errorf("logged %q while behind: %v", quiet, lines)
		}
	}

	if _, err := mig.Up(ctx); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, 10*time.Second, 100*time.Millisecond, func() bool { return login() != http.StatusServiceUnavailable },
		func() string { return "login still refused after migrating" })
	if got := login(); got != http.StatusUnauthorized {
		t.Errorf("login after migrating = %d, want 401", got)
	}
	if len(app.Logs.Lines("database schema is current")) != 1 {
		t.Errorf("no 'schema is current' line:\n%s", app.Logs.String())
	}
	if got := register(); got >= 300 {
		t.Fatalf("register after migrating = %d", got)
	}
	if got := status(http.MethodPost, "/auth/password/forgot", `{"email":"new@example.com"}`); got != http.StatusAccepted {
		t.Fatalf("forgot after migrating = %d", got)
	}
	testkit.WaitUntil(t, 10*time.Second, 100*time.Millisecond, func() bool { return len(app.Logs.Lines("mail (development")) > 0 },
		func() string {
			return "the mail worker did not start once the schema was current:\n" + app.Logs.String()
		})
}

// TestSchemaUnread_ServesOnlyProbes: a database whose schema version cannot
// be read (a new one, without goose's table) is the most behind there is:
// the gate stays shut rather than letting requests fail on missing tables.
func TestSchemaUnread_ServesOnlyProbes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t),
		func(d *server.Deps) { d.SchemaMayLag = true })
	if _, err := app.Deps.DB.Pool().Exec(ctx, "DROP SCHEMA public CASCADE; CREATE SCHEMA public"); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, app.URL+"/auth/login", strings.NewReader(`{"email":"nobody@example.com","password":"not the password"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("login on a database without a readable version = %d, want 503", res.StatusCode)
	}
	if n := strings.Count(app.Logs.String(), "cannot read the database schema's version"); n != 1 {
		t.Errorf("the unreadable version was logged %d times, want once", n)
	}
}

// versionReads signals each read of the schema version, so that a test can
// wait for the gate's polls instead of for a time.
type versionReads struct {
	*database.Migrator
	reads chan<- struct{}
}

func (v versionReads) Versions(ctx context.Context) (current, target int64, err error) {
	current, target, err = v.Migrator.Versions(ctx)
	select {
	case v.reads <- struct{}{}:
	default: // nobody is counting now
	}
	return current, target, err
}
