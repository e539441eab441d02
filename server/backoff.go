package server

import (
	"context"
	"fmt"
	"time"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/clientip"
)

// knownClientWindow is how recently a client must have logged in to an
// account to be exempt from the account-wide budget for strangers.
const knownClientWindow = 30 * 24 * time.Hour

// failureWindow is how long failures count towards the backoff.
const failureWindow = 24 * time.Hour

// refusal says why and for how long an attempt must wait.
type refusal struct {
	wait   time.Duration
	policy string // for the RateLimit header
}

// admitLogin decides whether this attempt may check a password, and counts
// it before the hash, so that concurrent guesses cannot slip past a check
// that only a finished failure would update. Unknown addresses take exactly
// the same path as real ones.
//
//  1. A client that is not known to the account spends one unit of the
//     account-wide budget (AUTHD_RATE_LIMIT_FAILED_LOGINS).
//  2. The (address, client) backoff row is locked; if it blocks, the attempt
//     waits; otherwise it counts as a failure and, from the BackoffAfter-th
//     on, blocks the next attempt for a doubling delay.
//
// A successful login forgives this client's count (forgiveLogin).
func (s *Server) admitLogin(ctx context.Context, email, ip string) (*refusal, error) {
	if !s.Limits.Enabled {
		return nil, nil
	}
	q := s.DB.Queries()
	now := s.Now()
	known, err := q.IsKnownClient(ctx, db.IsKnownClientParams{Email: email, Ip: ip, Since: now.Add(-knownClientWindow)})
	if err != nil {
		return nil, err
	}
	if !known {
		res, err := s.Limits.Store.Allow(ctx, "login:account:"+emailKey(email), s.Limits.FailedLogins)
		if err != nil {
			return nil, err
		}
		if !res.Allowed {
			return &refusal{wait: res.RetryAfter, policy: "login-account"}, nil
		}
	}
	var refused *refusal
	err = s.DB.InTx(ctx, func(q *db.Queries) error {
		key := db.ClaimLoginSlotParams{Email: email, Ip: clientip.Key(ip), Now: now}
		slot, err := q.ClaimLoginSlot(ctx, key)
		if err != nil {
			return err
		}
		if wait := slot.BlockedUntil.Sub(now); wait > 0 {
			refused = &refusal{wait: wait, policy: "login-backoff"}
			return nil
		}
		n := slot.Failures + 1
		if slot.LastFailedAt.Before(now.Add(-failureWindow)) {
			n = 1
		}
		return q.CountLoginAttempt(ctx, db.CountLoginAttemptParams{
			Email: email, Ip: key.Ip, Now: now, Failures: n, BlockedUntil: now.Add(s.backoffAfter(int(n))),
		})
	})
	return refused, err
}

// backoffAfter is how long the next attempt waits after n failures: nothing
// for the free ones, then BackoffBase doubling up to BackoffMax.
func (s *Server) backoffAfter(n int) time.Duration {
	if n < s.Limits.BackoffAfter {
		return 0
	}
	wait := s.Limits.BackoffBase
	for i := s.Limits.BackoffAfter; i < n && wait < s.Limits.BackoffMax; i++ {
		wait *= 2
	}
	return min(wait, s.Limits.BackoffMax)
}

// forgiveLogin clears this client's count after a successful login.
func (s *Server) forgiveLogin(ctx context.Context, email, ip string) {
	if !s.Limits.Enabled {
		return
	}
	if err := s.DB.Queries().ForgiveLoginFailures(ctx, db.ForgiveLoginFailuresParams{Email: email, Ip: clientip.Key(ip)}); err != nil {
		s.Log.WarnContext(ctx, "could not reset login failures", "error", err.Error())
	}
}

// problem is the 429 for an attempt that must wait.
func (r *refusal) problem() *problemError {
	secs := ceilSeconds(r.wait.Seconds())
	pe := tooManyRequests(kindLoginBackoff, fmt.Sprintf("Too many failed logins; retry in %d seconds.", secs), secs)
	pe.headers["RateLimit"] = fmt.Sprintf("%q;r=0;t=%d", r.policy, secs)
	return pe
}
