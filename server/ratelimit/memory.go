package ratelimit

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store for a single instance: GCRA over a map of theoretical
// arrival times, with the same arithmetic as the Redis store.
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
func (m *Memory) Allow(_ context.Context, key string, l Limit) (Result, error) {
	return m.check(key, l, 1), nil
}

// Peek implements Store.
func (m *Memory) Peek(_ context.Context, key string, l Limit) (Result, error) {
	return m.check(key, l, 0), nil
}

func (m *Memory) check(key string, l Limit, cost int) Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweep(now)
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	burst := time.Duration(l.burst()) * l.interval()
	allowAt := tat.Add(time.Duration(cost) * l.interval()).Add(-burst)
	if cost == 0 {
		allowAt = allowAt.Add(l.interval()) // would one more event fit?
	}
	if now.Before(allowAt) {
		return Result{Allowed: false, RetryAfter: allowAt.Sub(now), ResetAfter: tat.Sub(now)}
	}
	newTAT := tat.Add(time.Duration(cost) * l.interval())
	if cost > 0 {
		m.tat[key] = newTAT
	}
	return Result{
		Allowed:    true,
		Remaining:  int(now.Sub(newTAT.Add(-burst)) / l.interval()),
		ResetAfter: newTAT.Sub(now),
	}
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
