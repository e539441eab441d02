// Package database opens the PostgreSQL pool, runs migrations and guards every
// query with a circuit breaker and a timeout.
package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/gen/db"
)

// ErrUnavailable wraps every error that means the database could not serve a
// query (breaker open, timeout, connection failure); handlers answer 503.
var ErrUnavailable = errors.New("database unavailable")

// BreakerSettings configure the circuit breaker around the database.
type BreakerSettings struct {
	Failures     uint          // consecutive failures that open it
	OpenFor      time.Duration // how long it stays open before trying again
	Successes    uint          // successes in half-open state that close it
	QueryTimeout time.Duration // deadline of each statement
}

// Resilient is the one door to PostgreSQL: each statement, transaction start
// and commit asks the breaker first and runs under a deadline. Only
// infrastructure failures count against the breaker; "no rows" or a unique
// violation are answers, not failures. Errors are translated once, on the way
// out of this door: "no rows" leaves it as ErrNotFound, a failure as
// ErrUnavailable.
//
// The breaker is failsafe-go's, driven through its permit API rather than an
// executor, because a pgx.Rows outlives the call that returns it: the deadline
// and the breaker's verdict must wait until the rows are closed.
type Resilient struct {
	pool     *pgxpool.Pool
	breaker  circuitbreaker.CircuitBreaker[any]
	timeout  time.Duration
	onChange atomic.Pointer[func(to string)]
	queries  *db.Queries // shared: it holds nothing but the guarded pool
}

// OnBreakerChange registers fn to hear each new breaker state (for metrics).
func (r *Resilient) OnBreakerChange(fn func(to string)) { r.onChange.Store(&fn) }

// NewResilient guards pool with a breaker configured by s; state changes are logged.
func NewResilient(pool *pgxpool.Pool, s BreakerSettings, log *slog.Logger) *Resilient {
	r := &Resilient{pool: pool, timeout: s.QueryTimeout}
	r.queries = db.New(guarded{raw: pool, r: r})
	r.breaker = circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(s.Failures).
		WithSuccessThreshold(s.Successes).
		WithDelay(s.OpenFor).
		OnStateChanged(func(e circuitbreaker.StateChangedEvent) {
			log.Warn("database circuit breaker changed state",
				"from", e.OldState.String(), "to", e.NewState.String())
			if fn := r.onChange.Load(); fn != nil {
				(*fn)(e.NewState.String())
			}
		}).
		Build()
	return r
}

// Queries returns the generated queries running through the guard.
func (r *Resilient) Queries() *db.Queries { return r.queries }

// InTx runs fn in one transaction whose statements are guarded (and their
// errors translated) like any other; fn's error rolls it back and is
// returned as it is.
func (r *Resilient) InTx(ctx context.Context, fn func(q *db.Queries) error) error {
	var tx pgx.Tx
	err := r.do(ctx, func(ctx context.Context) (err error) {
		tx, err = r.pool.Begin(ctx)
		return err
	})
	if err != nil {
		return err
	}
	defer func() {
		// Rollback after Commit is a no-op; a detached context lets it finish
		// even when the request was cancelled.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := fn(db.New(guarded{raw: tx, r: r})); err != nil {
		return err
	}
	return r.do(ctx, tx.Commit)
}

// Pool is the pool underneath, unguarded: for tests and tools only.
func (r *Resilient) Pool() *pgxpool.Pool { return r.pool }

// Ping checks that a connection answers, through the breaker.
func (r *Resilient) Ping(ctx context.Context) error { return r.do(ctx, r.pool.Ping) }

// BreakerOpen reports whether the breaker refuses calls, and for how long.
func (r *Resilient) BreakerOpen() (bool, time.Duration) {
	return r.breaker.IsOpen(), r.breaker.RemainingDelay()
}

// BreakerState names the breaker's state (closed, open, half-open).
func (r *Resilient) BreakerState() string { return r.breaker.State().String() }

func (r *Resilient) do(ctx context.Context, fn func(context.Context) error) error {
	ctx, done, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	return done(fn(ctx))
}

// acquire asks the breaker for a permit and sets the statement deadline; the
// returned function records the outcome and releases both. A caller that has
// already given up gets its own error back and costs no permit.
func (r *Resilient) acquire(ctx context.Context) (context.Context, func(error) error, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if !r.breaker.TryAcquirePermit() {
		return nil, nil, fmt.Errorf("%w: %w", ErrUnavailable, circuitbreaker.ErrOpen)
	}
	stmtCtx, cancel := context.WithTimeout(ctx, r.timeout)
	return stmtCtx, func(err error) error {
		cancel()
		if err != nil && ctx.Err() != nil {
			// The caller's deadline or cancellation ended the statement, not
			// the database. A permit must be released by a record, and this
			// is no evidence of failure.
			r.breaker.RecordSuccess()
			return ctx.Err()
		}
		if isInfraFailure(err) {
			r.breaker.RecordFailure()
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		r.breaker.RecordSuccess()
		return interpretError(err)
	}, nil
}

// isInfraFailure separates "the database did not work" from "the database
// answered": only the first opens the breaker or becomes a 503. A statement
// deadline counts; the caller's own cancellation is filtered out before.
func isInfraFailure(err error) bool {
	switch {
	case err == nil, errors.Is(err, pgx.ErrNoRows), errors.Is(err, ErrUnavailable):
		return false
	case errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded):
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		class := pgErr.Code[:min(2, len(pgErr.Code))]
		switch class {
		case "08", "53", "57", "58", "XX": // connection, resources, operator, system, internal
			return true
		}
		return false
	}
	return true
}

// guarded implements db.DBTX over a pool or a transaction.
type guarded struct {
	raw db.DBTX
	r   *Resilient
}

func (g guarded) Exec(ctx context.Context, sql string, args ...any) (tag pgconn.CommandTag, err error) {
	err = g.r.do(ctx, func(ctx context.Context) error {
		tag, err = g.raw.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
}

func (g guarded) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	ctx, done, err := g.r.acquire(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := g.raw.Query(ctx, sql, args...)
	if err != nil {
		return nil, done(err)
	}
	return &guardedRows{Rows: rows, done: done}, nil
}

// QueryRow defers the query to Scan, which sqlc calls at once, so that the
// deadline covers reading the row, the breaker sees the real outcome and a
// missing row comes out as ErrNotFound.
func (g guarded) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return guardedRow{g: g, ctx: ctx, sql: sql, args: args}
}

type guardedRow struct {
	g    guarded
	ctx  context.Context
	sql  string
	args []any
}

func (row guardedRow) Scan(dest ...any) error {
	return row.g.r.do(row.ctx, func(ctx context.Context) error {
		return row.g.raw.QueryRow(ctx, row.sql, row.args...).Scan(dest...)
	})
}

// guardedRows records the outcome when the rows are closed.
type guardedRows struct {
	pgx.Rows
	done   func(error) error
	err    error
	closed bool
}

func (rs *guardedRows) Close() {
	if rs.closed {
		return
	}
	rs.Rows.Close()
	rs.closed = true
	rs.err = rs.done(rs.Rows.Err())
}

func (rs *guardedRows) Err() error {
	if rs.closed {
		return rs.err
	}
	if err := rs.Rows.Err(); isInfraFailure(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	} else {
		return interpretError(err)
	}
}
