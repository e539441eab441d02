package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/ratelimit"
)

// knownClientWindow is how recently a client must have logged in to an
// account to be exempt from the account-wide budget for strangers.
const knownClientWindow = 30 * 24 * time.Hour

// failureWindow is how long failures count towards the backoff.
const failureWindow = 24 * time.Hour

// refusal says why and for how long an attempt must wait. A password check
// outside a login returns it as its error, so that it passes up unchanged to
// the handler, which answers its own 429 (loginBackoff).
type refusal struct {
	wait   time.Duration
	policy string // for the RateLimit header
}

func (r *refusal) Error() string { return fmt.Sprintf("%s: wait %s", r.policy, r.wait) }

// admitLogin decides whether this attempt may check a password, and counts
// it before the hash, so that concurrent guesses cannot slip past a check
// that only a finished failure would update. Unknown addresses take exactly
// the same path as real ones.
//
//  1. A client that is not known to the account spends one unit of the
//     account-wide budget (AUTHD_RATE_LIMIT_FAILED_LOGINS).
//  2. The (address, client) count in the backoff store is checked and
//     counted in one atomic step: if it blocks, the attempt waits; otherwise
//     it counts as a failure and, from the BackoffAfter-th on, blocks the
//     next attempt for a doubling delay.
//
// The count lives in Limits.BackoffStore (memory with a fixed number of
// counts, or Redis with a TTL), never in the database, and expires
// failureWindow after its last attempt: what a flood of random addresses
// leaves behind is bounded. A successful login forgives this client's count
// (forgiveLogin).
func (s *Server) admitLogin(ctx context.Context, email, ip string) (*refusal, error) {
	if !s.limits.Enabled {
		return nil, nil
	}
	now := s.now()
	known, err := s.db.Queries().IsKnownClient(ctx, db.IsKnownClientParams{Email: email, Ip: ip, Since: now.Add(-knownClientWindow)})
	if err != nil {
		return nil, err
	}
	if !known {
		res, err := s.limits.Store.Allow(ctx, "login:account:"+emailKey(email), s.limits.FailedLogins)
		if err != nil {
			return nil, err
		}
		if !res.Allowed {
			return &refusal{wait: res.RetryAfter, policy: "login-account"}, nil
		}
	}
	wait, err := s.limits.BackoffStore.Attempt(ctx, backoffKey(email, ip), now, s.backoffPolicy())
	if err != nil || wait <= 0 {
		return nil, err
	}
	return &refusal{wait: wait, policy: "login-backoff"}, nil
}

// backoffKey names the count of an (address, client) pair: a hash, so every
// count has the same small size and the store holds no address in clear.
func backoffKey(email, ip string) string {
	sum := sha256.Sum256([]byte(emailKey(email) + "\n" + clientip.Key(ip)))
	return "login:backoff:" + hex.EncodeToString(sum[:16])
}

// backoffPolicy: BackoffAfter free failures, then BackoffBase doubling up
// to BackoffMax, counted over failureWindow.
func (s *Server) backoffPolicy() ratelimit.BackoffPolicy {
	return ratelimit.BackoffPolicy{After: s.limits.BackoffAfter, Base: s.limits.BackoffBase, Max: s.limits.BackoffMax, Window: failureWindow}
}

// forgiveLogin clears this client's count after a successful login.
func (s *Server) forgiveLogin(ctx context.Context, email, ip string) {
	if !s.limits.Enabled {
		return
	}
	if err := s.limits.BackoffStore.Forgive(ctx, backoffKey(email, ip)); err != nil {
		s.log.WarnContext(ctx, "could not reset login failures", "error", err.Error())
	}
}
