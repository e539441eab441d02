package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/gen/db"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func livePool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	url := os.Getenv("TEST_DATABASE_URL")
	if url == "" {
		url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestResilient_StatementTimeoutIsUnavailable(t *testing.T) {
	t.Parallel()
	r := NewResilient(livePool(t), BreakerSettings{Failures: 5, OpenFor: time.Minute, Successes: 1, QueryTimeout: 100 * time.Millisecond}, quiet)
	g := guarded{raw: r.pool, r: r}

	start := time.Now()
	_, err := g.Exec(context.Background(), "SELECT pg_sleep(5)")
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if time.Since(start) > 4*time.Second {
		t.Error("the statement was not cut off at its deadline")
	}
	// The pool and breaker still serve. The quick statement may need a new
	// connection, which on a loaded machine takes longer than 100 ms: its
	// deadline is a generous one, so that only a broken pool fails here.
	r.timeout = 10 * time.Second
	var n int
	if err := g.QueryRow(context.Background(), "SELECT 1").Scan(&n); err != nil || n != 1 {
		t.Errorf("a quick statement after a timeout: %d, %v", n, err)
	}
}

func TestResilient_AnswersAreNotFailures(t *testing.T) {
	t.Parallel()
	r := NewResilient(livePool(t), BreakerSettings{Failures: 2, OpenFor: time.Minute, Successes: 1, QueryTimeout: time.Second}, quiet)
	g := guarded{raw: r.pool, r: r}
	for range 5 {
		var n int
		if err := g.QueryRow(context.Background(), "SELECT 1 WHERE false").Scan(&n); !errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want ErrNotFound", err)
		}
		_, err := g.Exec(context.Background(), "SELECT 1/0")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want the PgError unchanged", err)
		}
	}
	if open, _ := r.BreakerOpen(); open {
		t.Error("answers opened the breaker")
	}
}

// TestResilient_NoRowIsErrNotFound: whichever way a statement reaches the
// database, a missing row leaves the guard as ErrNotFound and never as the
// driver's own error, which callers outside this package do not test for.
func TestResilient_NoRowIsErrNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := NewResilient(livePool(t), BreakerSettings{Failures: 2, OpenFor: time.Minute, Successes: 1, QueryTimeout: time.Second}, quiet)
	check := func(how string, err error) {
		t.Helper()
		if !errors.Is(err, ErrNotFound) || errors.Is(err, pgx.ErrNoRows) {
			t.Errorf("%s: err = %v, want ErrNotFound alone", how, err)
		}
	}
	var n int
	check("pool", guarded{raw: r.pool, r: r}.QueryRow(ctx, "SELECT 1 WHERE false").Scan(&n))
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	check("transaction", guarded{raw: tx, r: r}.QueryRow(ctx, "SELECT 1 WHERE false").Scan(&n))
	if got := interpretError(fmt.Errorf("wrapped: %w", pgx.ErrNoRows)); got != ErrNotFound {
		t.Errorf("a wrapped ErrNoRows: %v", got)
	}
	if open, _ := r.BreakerOpen(); open {
		t.Error("missing rows opened the breaker")
	}
}

func TestResilient_FailuresOpenBreakerAndFailFast(t *testing.T) {
	t.Parallel()
	dead, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dead.Close)
	r := NewResilient(dead, BreakerSettings{Failures: 3, OpenFor: time.Minute, Successes: 1, QueryTimeout: time.Second}, quiet)

	for range 3 {
		if err := r.Ping(context.Background()); !errors.Is(err, ErrUnavailable) || errors.Is(err, circuitbreaker.ErrOpen) {
			t.Fatalf("err = %v, want a connection failure", err)
		}
	}
	open, wait := r.BreakerOpen()
	if !open || wait <= 0 || r.BreakerState() != "open" {
		t.Fatalf("breaker open=%v wait=%v state=%s after 3 failures", open, wait, r.BreakerState())
	}
	err = r.InTx(context.Background(), func(*db.Queries) error {
		t.Error("transaction body ran with the breaker open")
		return nil
	})
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, circuitbreaker.ErrOpen) {
		t.Errorf("err = %v, want fail-fast ErrOpen", err)
	}
}

func TestResilient_RowsRecordOutcomeOnClose(t *testing.T) {
	t.Parallel()
	r := NewResilient(livePool(t), BreakerSettings{Failures: 1, OpenFor: time.Minute, Successes: 1, QueryTimeout: time.Second}, quiet)
	g := guarded{raw: r.pool, r: r}
	rows, err := g.Query(context.Background(), "SELECT generate_series(1, 3)")
	if err != nil {
		t.Fatal(err)
	}
	sum := 0
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		sum += n
	}
	rows.Close()
	if rows.Err() != nil || sum != 6 {
		t.Fatalf("sum = %d, err = %v", sum, rows.Err())
	}
	if open, _ := r.BreakerOpen(); open {
		t.Error("a successful query opened the breaker")
	}
}

func TestIsInfraFailure(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		err  error
		want bool
	}{
		"nil":              {nil, false},
		"no rows":          {pgx.ErrNoRows, false},
		"unique violation": {&pgconn.PgError{Code: "23505"}, false},
		"serialization":    {&pgconn.PgError{Code: "40001"}, false},
		"admin shutdown":   {&pgconn.PgError{Code: "57P01"}, true},
		"too many clients": {&pgconn.PgError{Code: "53300"}, true},
		"client cancelled": {context.Canceled, false},
		"deadline":         {context.DeadlineExceeded, true},
		"connection reset": {errors.New("read: connection reset by peer"), true},
	}
	for name, tc := range cases {
		if got := isInfraFailure(tc.err); got != tc.want {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestResilient_CallerDeadlineIsNotADatabaseFailure(t *testing.T) {
	t.Parallel()
	r := NewResilient(livePool(t), BreakerSettings{Failures: 2, OpenFor: time.Minute, Successes: 1, QueryTimeout: 5 * time.Second}, quiet)
	g := guarded{raw: r.pool, r: r}
	for range 4 {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := g.Exec(ctx, "SELECT pg_sleep(2)")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrUnavailable) {
			t.Fatalf("err = %v, want the caller's DeadlineExceeded, not ErrUnavailable", err)
		}
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Ping(done); !errors.Is(err, context.Canceled) {
		t.Errorf("ping with a finished context: %v", err)
	}
	if open, _ := r.BreakerOpen(); open {
		t.Error("callers' deadlines opened the breaker")
	}
}
