// Package ratelimit enforces GCRA rate limits in memory or, shared by several
// instances, in Redis, falling back to memory while Redis is unreachable.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit allows at most Rate events in any window of Period. As a GCRA it
// is a burst of half the rate (rounded up) refilled steadily, sized so that
// burst plus refills never exceed Rate within one Period.
type Limit struct {
	Rate   int
	Period time.Duration
}

// burst is how many events may come at once.
func (l Limit) burst() int { return (l.Rate + 1) / 2 }

// refills is how many events' worth come back per Period.
func (l Limit) refills() int { return l.Rate - l.burst() + 1 }

// ParseLimit reads "N/duration", e.g. "10/1m" or "20/1h".
func ParseLimit(s string) (Limit, error) {
	n, d, ok := strings.Cut(s, "/")
	rate, err1 := strconv.Atoi(strings.TrimSpace(n))
	period, err2 := time.ParseDuration(strings.TrimSpace(d))
	if !ok || err1 != nil || err2 != nil || rate < 1 || period < time.Second {
		return Limit{}, fmt.Errorf("%q is not a limit like 10/1m (at least 1 per 1s)", s)
	}
	return Limit{Rate: rate, Period: period}, nil
}

func (l Limit) String() string { return strconv.Itoa(l.Rate) + "/" + l.Period.String() }

// interval is the time one event's share of the budget takes to come back.
// In a window of Period at most burst + refills - 1 = Rate events fit.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.refills()) }

// Result is the outcome of one check.
type Result struct {
	Allowed    bool
	Remaining  int           // events still allowed right now
	RetryAfter time.Duration // when refused: until the next event is allowed
	ResetAfter time.Duration // until the whole budget is back
}

// Store keeps limit state. Allow spends one event when the budget has one;
// Peek only reports whether it has.
type Store interface {
	Allow(ctx context.Context, key string, l Limit) (Result, error)
	Peek(ctx context.Context, key string, l Limit) (Result, error)
}

// UnmarshalText lets configuration parse a Limit from "N/duration".
func (l *Limit) UnmarshalText(b []byte) error {
	parsed, err := ParseLimit(string(b))
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}
