package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/db"
)

// knownClientWindow is how recently a client must have logged in to an
// account to be exempt from the account-wide failure budget.
const knownClientWindow = 30 * 24 * time.Hour

// failureWindow is how long failures count towards the backoff.
const failureWindow = 24 * time.Hour

// loginWait says how long this client must wait before trying this email
// again: the per-client backoff, then the account-wide failure budget. It
// treats unknown emails exactly like real ones; user is nil for them.
func (s *Server) loginWait(ctx context.Context, email, ip string, user *db.User) (time.Duration, error) {
	if !s.Limits.Enabled {
		return 0, nil
	}
	q := s.db.Queries()
	until, err := q.LoginBlockedUntil(ctx, db.LoginBlockedUntilParams{Email: email, Ip: ip})
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, err
	}
	if wait := until.Sub(s.Now()); wait > 0 {
		return wait, nil
	}
	budget, err := s.Limits.Store.Peek(ctx, "login:failures:"+emailKey(email), s.Limits.FailedLogins)
	if err != nil || budget.Allowed {
		return 0, err
	}
	if user != nil {
		known, err := q.HasRecentSessionFromIP(ctx, db.HasRecentSessionFromIPParams{UserID: user.ID, Ip: ip, Since: s.Now().Add(-knownClientWindow)})
		if err != nil || known {
			return 0, err
		}
	}
	return budget.RetryAfter, nil
}

// recordLoginFailure counts a failure against this client and email and,
// once the free failures are used, makes the next attempt wait.
func (s *Server) recordLoginFailure(ctx context.Context, email, ip string) error {
	if !s.Limits.Enabled {
		return nil
	}
	now := s.Now()
	q := s.db.Queries()
	n, err := q.RecordLoginFailure(ctx, db.RecordLoginFailureParams{Email: email, Ip: ip, Now: now, WindowStart: now.Add(-failureWindow)})
	if err != nil {
		return err
	}
	// From the BackoffAfter-th failure on, the next attempt waits: base,
	// then doubling with each further failure, up to the cap.
	if extra := int(n) - s.Limits.BackoffAfter; extra >= 0 {
		wait := s.Limits.BackoffMax
		if extra < 30 { // beyond that, 2^extra passes any sane cap anyway
			wait = min(s.Limits.BackoffBase<<extra, s.Limits.BackoffMax)
		}
		if err := q.BlockLogin(ctx, db.BlockLoginParams{Email: email, Ip: ip, BlockedUntil: now.Add(wait)}); err != nil {
			return err
		}
	}
	_, err = s.Limits.Store.Allow(ctx, "login:failures:"+emailKey(email), s.Limits.FailedLogins)
	return err
}

// backoffProblem is the 429 for a client that must wait before trying again.
func backoffProblem(wait time.Duration) *problemError {
	secs := ceilSeconds(wait.Seconds())
	return tooManyRequests(kindLoginBackoff, fmt.Sprintf("Too many failed logins; retry in %d seconds.", secs), secs)
}

// PruneLoginFailures deletes stale backoff rows every interval until ctx ends.
func (s *Server) PruneLoginFailures(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			before := s.Now().Add(-failureWindow)
			if err := s.db.Queries().PruneLoginFailures(ctx, before); err != nil {
				s.log.WarnContext(ctx, "pruning login failures failed", "error", err.Error())
			}
		}
	}
}
