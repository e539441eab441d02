package server

import (
	"context"
	"errors"
	"time"

	"github.com/authd/authd/gen/db"
)

// prune runs PruneNow every interval until ctx ends.
func (s *Server) prune(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.PruneNow(ctx); err != nil {
				s.log.WarnContext(ctx, "pruning failed", "error", err.Error())
			}
		}
	}
}

// endedSessionRetention is how long a revoked or expired session is kept
// before it is deleted with its refresh tokens: its tokens answer 401 either
// way, and for a day the metrics still tell them from unknown ones.
const endedSessionRetention = 24 * time.Hour

// pruneBatch bounds one DELETE of sessions, whose refresh tokens go with them.
const pruneBatch = 500

// PruneNow deletes stale rows: expired mailed tokens, pending
// registrations, login challenges, unverified factors, passkey ceremonies,
// federated logins' link tokens, states and one-time codes, sent (after a
// week) and dead (after a month) mail,
// security events older than AuditRetention, sealed refresh successors past
// the retry window, and sessions that ended over a day ago with their refresh
// tokens. The rotated tokens of a live session stay, so that reuse of any of
// them is still detected.
func (s *Server) PruneNow(ctx context.Context) error {
	now, q := s.now(), s.db.Queries()
	return errors.Join(
		q.ClearSealedSuccessors(ctx, now.Add(-s.refreshRetry)),
		s.pruneEndedSessions(ctx, q, now.Add(-endedSessionRetention)),
		q.PruneAccountTokens(ctx, now),
		q.PrunePendingRegistrations(ctx, now),
		q.PruneEvents(ctx, now.Add(-s.auditRetention)),
		discardCount(q.PruneMfaChallenges(ctx, now)),
		discardCount(q.PruneExpiredFactors(ctx, now)),
		discardCount(q.PruneWebauthnCeremonies(ctx, now)),
		discardCount(q.PruneOidcFlows(ctx, now)),
		q.PruneMailOutbox(ctx, db.PruneMailOutboxParams{SentBefore: ptr(now.Add(-7 * 24 * time.Hour)), DeadBefore: now.Add(-30 * 24 * time.Hour)}),
	)
}

// pruneEndedSessions deletes, batch by batch, the sessions that ended before.
func (s *Server) pruneEndedSessions(ctx context.Context, q *db.Queries, before time.Time) error {
	for {
		n, err := q.PruneEndedSessions(ctx, db.PruneEndedSessionsParams{EndedBefore: before, Batch: pruneBatch})
		if err != nil || n < pruneBatch {
			return err
		}
	}
}

// discardCount keeps the error of a query that returns how many rows it deleted.
func discardCount(_ int64, err error) error { return err }
