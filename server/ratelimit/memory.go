package ratelimit

import (
	"context"
	"maps"
	"sync"
	"time"
)

// Memory is a Store for a single instance: GCRA over a map of theoretical
// arrival times (TATs), with the same arithmetic as the Redis store.
type Memory struct {
	mu        sync.Mutex
	tat       map[string]time.Time
	now       func() time.Time
	nextSweep time.Time
}

// NewMemory returns an empty Memory store; now is its clock.
func NewMemory(now func() time.Time) *Memory {
	return &Memory{tat: map[string]time.Time{}, now: now}
}

// Allow implements Store.
func (m *Memory) Allow(ctx context.Context, key string, l Limit) (Result, error) {
	return allowOne(ctx, m.AllowAll, key, l)
}

// AllowAll implements Store: every check is decided under one lock.
func (m *Memory) AllowAll(_ context.Context, checks []Check) ([]Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	results := make([]Result, len(checks))
	spent := make(map[string]time.Time, len(checks)) // a key named twice is spent twice
	for i, c := range checks {
		tat, ok := spent[c.Key]
		if !ok {
			tat = m.tat[c.Key]
		}
		results[i], spent[c.Key] = gcra(now, tat, c.Limit)
	}
	if Allowed(results) {
		maps.Copy(m.tat, spent)
	}
	return results, nil
}

// gcra decides one event against a key's TAT; it returns the result and the
// TAT once the event is spent (unchanged when refused).
func gcra(now, tat time.Time, l Limit) (Result, time.Time) {
	if tat.Before(now) {
		tat = now
	}
	burst := time.Duration(l.burst()) * l.interval()
	newTAT := tat.Add(l.interval())
	allowAt := newTAT.Add(-burst)
	if now.Before(allowAt) {
		return Result{Allowed: false, RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}, tat
	}
	return Result{
		Allowed:    true,
		Remaining:  int(now.Sub(allowAt) / l.interval()),
		ResetAfter: newTAT.Sub(now),
	}, newTAT
}

// sweep drops keys whose budget is whole again, at most once a minute.
func (m *Memory) sweep(now time.Time) {
	if now.Before(m.nextSweep) {
		return
	}
	m.nextSweep = now.Add(time.Minute)
	for k, tat := range m.tat {
		if !tat.After(now) {
			delete(m.tat, k)
		}
	}
}
