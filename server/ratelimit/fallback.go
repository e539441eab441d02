package ratelimit

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
)

// Fallback uses a shared store while it answers and a local one while it
// does not, so an outage of Redis makes limits per-instance instead of
// failing every login. A breaker keeps a dead Redis from costing a timeout
// on every request.
type Fallback struct {
	shared  Store
	local   Store
	breaker circuitbreaker.CircuitBreaker[any]
	timeout time.Duration
	log     *slog.Logger
	lastErr atomic.Value // string: why the shared store last failed, for the log
}

// NewFallback returns a Store over shared with local as the stand-in; after
// failures consecutive errors it stays local for retryAfter before trying again.
func NewFallback(shared, local Store, timeout, retryAfter time.Duration, log *slog.Logger) *Fallback {
	f := &Fallback{shared: shared, local: local, timeout: timeout, log: log}
	f.breaker = circuitbreaker.NewBuilder[any]().
		WithFailureThreshold(3).
		WithDelay(retryAfter).
		OnOpen(func(circuitbreaker.StateChangedEvent) {
			why, _ := f.lastErr.Load().(string)
			log.Warn("rate limiter: shared store unreachable; enforcing limits per instance until it returns", "error", why)
		}).
		OnClose(func(circuitbreaker.StateChangedEvent) {
			log.Info("rate limiter: shared store is back")
		}).
		Build()
	return f
}

// Allow implements Store.
func (f *Fallback) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return allowOne(ctx, f.AllowAll, key, l)
}

// AllowAll implements Store: all the checks go to one store, so they stay
// atomic whichever answers.
func (f *Fallback) AllowAll(ctx context.Context, checks []Check) ([]Result, error) {
	if f.breaker.TryAcquirePermit() {
		sctx, cancel := context.WithTimeout(ctx, f.timeout)
		res, err := f.shared.AllowAll(sctx, checks)
		cancel()
		if err == nil {
			f.breaker.RecordSuccess()
			return res, nil
		}
		if ctx.Err() != nil { // the caller gave up first; no verdict on the store
			f.breaker.RecordSuccess()
			return nil, ctx.Err()
		}
		f.lastErr.Store(err.Error())
		f.breaker.RecordFailure() // an error, or the store's own deadline
		f.log.DebugContext(ctx, "rate limiter: shared store failed", "error", err.Error())
	}
	return f.local.AllowAll(ctx, checks)
}

// Degraded reports whether limits are currently enforced per instance.
func (f *Fallback) Degraded() bool { return !f.breaker.IsClosed() }

// Probe checks the shared store now (for readiness) and feeds the outcome
// to the breaker, so a recovery is noticed without waiting for a request.
// Its failure counts like a request's: one slow answer to a probe, which
// anyone can trigger by asking for /readiness, does not switch the limits
// to per-instance memory.
func (f *Fallback) Probe(ctx context.Context) { f.probe(ctx, false) }

// ProbeAtStart is Probe at start-up, whose failure is a verdict: the breaker
// opens at once, so the outage is logged before traffic finds it and the
// first readiness probe already says degraded, at no second timeout.
func (f *Fallback) ProbeAtStart(ctx context.Context) { f.probe(ctx, true) }

func (f *Fallback) probe(ctx context.Context, verdict bool) {
	if !f.breaker.TryAcquirePermit() {
		return // open: its delay decides when Redis is tried again
	}
	sctx, cancel := context.WithTimeout(ctx, f.timeout)
	_, err := f.shared.AllowAll(sctx, []Check{{Key: "probe", Limit: Limit{Rate: 1, Period: time.Second}}})
	cancel()
	if err == nil || ctx.Err() != nil { // up, or the caller gave up first: no verdict
		f.breaker.RecordSuccess()
		return
	}
	f.lastErr.Store(err.Error())
	if verdict {
		f.breaker.Open()
		return
	}
	f.breaker.RecordFailure()
}
