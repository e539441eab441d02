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

// Result is the outcome of one check. When AllowAll refuses a request, the
// budgets that had an event left report Allowed with what they would keep.
type Result struct {
	Allowed    bool
	Remaining  int           // events still allowed right now
	RetryAfter time.Duration // when refused: until the next event is allowed
	ResetAfter time.Duration // until the whole budget is back
}

// Check names one budget: a key and its limit.
type Check struct {
	Key   string
	Limit Limit
}

// Store keeps limit state.
type Store interface {
	// AllowAll decides every check at one instant, as one atomic step: it
	// spends one event of each budget when all of them have one, and nothing
	// otherwise, so that requests arriving together cannot all pass and a
	// refused request is charged to none of its budgets. The results come in
	// the order of checks; see Allowed.
	AllowAll(ctx context.Context, checks []Check) ([]Result, error)
	// Allow is AllowAll with one check.
	Allow(ctx context.Context, key string, l Limit) (Result, error)
}

// Allowed reports whether every result allowed its event, that is, whether
// AllowAll spent them.
func Allowed(results []Result) bool {
	for _, r := range results {
		if !r.Allowed {
			return false
		}
	}
	return true
}

// allowOne is Allow in terms of a store's AllowAll.
func allowOne(ctx context.Context, allowAll func(context.Context, []Check) ([]Result, error), key string, l Limit) (Result, error) {
	res, err := allowAll(ctx, []Check{{Key: key, Limit: l}})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
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
