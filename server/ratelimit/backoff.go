package ratelimit

import (
	"container/list"
	"context"
	"log/slog"
	"sync"
	"time"
)

// Backoff keeps the failure counts of the login backoff: per key, how many
// attempts failed in the last Window and until when the next one waits.
// Every count expires, so what an attacker can make it hold is bounded.
type Backoff interface {
	// Attempt counts one attempt for key at now, or, while key is blocked,
	// counts nothing and returns how long it still waits. Checking and
	// counting are one atomic step, so concurrent attempts are decided one
	// by one.
	Attempt(ctx context.Context, key string, now time.Time, p BackoffPolicy) (wait time.Duration, err error)
	// Forgive forgets key's count.
	Forgive(ctx context.Context, key string) error
}

// BackoffPolicy says how counts turn into waits.
type BackoffPolicy struct {
	After     int           // the After-th counted attempt, and each one after it, blocks the next
	Base, Max time.Duration // for Base, doubling up to Max
	Window    time.Duration // a count is forgotten Window after its last attempt
}

// Wait is how long the next attempt waits after n counted attempts.
func (p BackoffPolicy) Wait(n int) time.Duration {
	if n < p.After {
		return 0
	}
	wait := p.Base
	for i := p.After; i < n && wait < p.Max; i++ {
		wait *= 2
	}
	return min(wait, p.Max)
}

// DefaultBackoffLimit is how many counts a MemoryBackoff holds in authd:
// about 200 bytes each, so at most about 10 MB.
const DefaultBackoffLimit = 50_000

// MemoryBackoff is a Backoff for one instance that holds at most a fixed
// number of counts: when full, the count updated longest ago that blocks
// nothing makes room.
// Counts also go once expired, so a quiet instance holds few.
type MemoryBackoff struct {
	mu    sync.Mutex
	limit int
	byKey map[string]*list.Element
	order *list.List // of *backoffCount, most recently updated first
}

type backoffCount struct {
	key         string
	n           int
	last, until time.Time
}

// NewMemoryBackoff returns an empty MemoryBackoff holding at most limit counts.
func NewMemoryBackoff(limit int) *MemoryBackoff {
	return &MemoryBackoff{limit: max(1, limit), byKey: map[string]*list.Element{}, order: list.New()}
}

// Attempt implements Backoff.
func (m *MemoryBackoff) Attempt(_ context.Context, key string, now time.Time, p BackoffPolicy) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(now, p.Window)
	el, ok := m.byKey[key]
	if !ok {
		for m.order.Len() >= m.limit {
			m.remove(m.evictable(now))
		}
		el = m.order.PushFront(&backoffCount{key: key})
		m.byKey[key] = el
	}
	c := el.Value.(*backoffCount)
	if wait := c.until.Sub(now); wait > 0 {
		return wait, nil
	}
	if c.last.Before(now.Add(-p.Window)) {
		c.n = 0
	}
	c.n++
	c.last, c.until = now, now.Add(p.Wait(c.n))
	m.order.MoveToFront(el)
	return 0, nil
}

// Forgive implements Backoff.
func (m *MemoryBackoff) Forgive(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byKey[key]; ok {
		m.remove(el)
	}
	return nil
}

// Len is how many counts are held now.
func (m *MemoryBackoff) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// expire drops, from the oldest end, counts that neither count nor block any more.
func (m *MemoryBackoff) expire(now time.Time, window time.Duration) {
	for el := m.order.Back(); el != nil; el = m.order.Back() {
		c := el.Value.(*backoffCount)
		if !c.last.Before(now.Add(-window)) || c.until.After(now) {
			return
		}
		m.remove(el)
	}
}

// evictScan bounds how far evictable looks for a count that blocks nothing.
const evictScan = 64

// evictable is the count to drop for a new one: the least recently updated
// that blocks nothing now, so a guesser cannot clear its own block by
// flooding the store with fresh counts; if the oldest evictScan all block,
// the one of them whose block ends first, so decoy blocks kept in front of
// a guesser's own do not make its block the one to go.
func (m *MemoryBackoff) evictable(now time.Time) *list.Element {
	victim := m.order.Back()
	el := victim
	for i := 0; el != nil && i < evictScan; i, el = i+1, el.Prev() {
		c := el.Value.(*backoffCount)
		if !c.until.After(now) {
			return el
		}
		if c.until.Before(victim.Value.(*backoffCount).until) {
			victim = el
		}
	}
	return victim
}

func (m *MemoryBackoff) remove(el *list.Element) {
	delete(m.byKey, el.Value.(*backoffCount).key)
	m.order.Remove(el)
}

// FallbackBackoff counts in a shared Backoff while it answers and in a local
// one while it does not, like Fallback does for limits. down reports the
// shared store as known to be unreachable (the limits' breaker), so an
// outage costs no timeout per attempt.
type FallbackBackoff struct {
	shared, local Backoff
	down          func() bool
	timeout       time.Duration
	log           *slog.Logger
}

// NewFallbackBackoff returns a Backoff over shared with local as the stand-in.
func NewFallbackBackoff(shared, local Backoff, down func() bool, timeout time.Duration, log *slog.Logger) *FallbackBackoff {
	return &FallbackBackoff{shared: shared, local: local, down: down, timeout: timeout, log: log}
}

// Attempt implements Backoff.
func (f *FallbackBackoff) Attempt(ctx context.Context, key string, now time.Time, p BackoffPolicy) (time.Duration, error) {
	if !f.down() {
		sctx, cancel := context.WithTimeout(ctx, f.timeout)
		wait, err := f.shared.Attempt(sctx, key, now, p)
		cancel()
		if err == nil {
			return wait, nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		f.log.DebugContext(ctx, "login backoff: shared store failed", "error", err.Error())
	}
	return f.local.Attempt(ctx, key, now, p)
}

// Forgive implements Backoff: in both stores, since an attempt may have been
// counted in either; a shared store that fails keeps its count until it
// expires.
func (f *FallbackBackoff) Forgive(ctx context.Context, key string) error {
	_ = f.local.Forgive(ctx, key)
	if f.down() {
		return nil
	}
	sctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if err := f.shared.Forgive(sctx, key); err != nil {
		f.log.DebugContext(ctx, "login backoff: shared store failed", "error", err.Error())
	}
	return nil
}
