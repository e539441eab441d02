package testkit

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"go.opentelemetry.io/otel/trace"
)

// StartMailWorker runs an outbox worker for the app that sends to smtpURL,
// polling fast and retrying quickly, until the test ends.
func (a *App) StartMailWorker(t testing.TB, smtpURL string, tune ...func(*mail.WorkerOptions)) {
	t.Helper()
	sender, err := mail.NewSMTP(smtpURL, "authd <no-reply@authd.example>", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	opts := mail.WorkerOptions{
		Poll: 20 * time.Millisecond, Lease: 20 * time.Second, MaxAttempts: 100,
		RetryBase: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		// The app's clock and sealer unless tune sets them (MailWorker);
		// OnEvent is set here so that tune may wrap it.
		OnEvent: func(e string) { a.Deps.Metrics.Mail.WithLabelValues(e).Inc() },
	}
	for _, f := range tune {
		f(&opts)
	}
	w := a.Server.MailWorker(sender, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// IsolatedDatabase gives the app a database of its own, for tests whose
// outbox must not be drained by other tests' workers, whose rules span every
// row of a table (the last active admin), or whose rows must not be touched
// by other tests (pruning with an advanced clock, say).
func IsolatedDatabase(t testing.TB) Option { return isolated(t, nil) }

// IsolatedDatabaseURL creates a migrated database of the test's own, dropped
// when the test ends, and returns its URL.
func IsolatedDatabaseURL(t testing.TB) string {
	t.Helper()
	url := createdDatabase(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	mig, err := database.NewMigrator(pool)
	if err == nil {
		_, err = mig.Up(context.Background())
		_ = mig.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	return url
}

// createdDatabase creates an empty database, dropped when the test ends.
func createdDatabase(t testing.TB) string {
	t.Helper()
	url, drop, err := CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return url
}

// Traced gives the app a database of its own whose queries, like its
// requests, are traced by tp.
func Traced(t testing.TB, tp trace.TracerProvider) Option {
	db := isolated(t, tp)
	return func(d *server.Deps) {
		db(d)
		d.Tracer = tp
	}
}

func isolated(t testing.TB, tp trace.TracerProvider) Option {
	ctx := context.Background()
	pool, err := database.Open(ctx, createdDatabase(t), 10, tp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // before the drop: cleanups run last first
	// The app's migrator is the one that migrated: tests of the schema gate
	// see what a started authd's migrator sees.
	mig, err := database.NewMigrator(pool)
	if err == nil {
		t.Cleanup(func() { _ = mig.Close() })
		_, err = mig.Up(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "", "")
	return func(d *server.Deps) {
		d.DB = server.GuardDatabase(cfg, pool, d.Log)
		d.Migrations = mig
	}
}

// LiveTokens counts the user's mailed tokens that still work by the app's clock.
func (a *App) LiveTokens(t T, userID uuid.UUID) int {
	t.Helper()
	var n int
	err := a.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM account_tokens WHERE user_id = $1 AND expires_at > $2", userID, a.Clock.Now()).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
