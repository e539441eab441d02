package server

import (
	"context"
	"errors"
	"time"

	"github.com/authd/authd/gen/db"
)

// Prune runs PruneNow every interval until ctx ends.
func (s *Server) Prune(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.PruneNow(ctx); err != nil {
				s.Log.WarnContext(ctx, "pruning failed", "error", err.Error())
			}
		}
	}
}

// PruneNow deletes stale rows: expired mailed tokens and
// pending registrations, sent (after a week) and dead (after a month) mail,
// and security events older than AuditRetention.
func (s *Server) PruneNow(ctx context.Context) error {
	now, q := s.Now(), s.DB.Queries()
	return errors.Join(
		q.PruneAccountTokens(ctx, now),
		q.PrunePendingRegistrations(ctx, now),
		q.PruneEvents(ctx, now.Add(-s.AuditRetention)),
		q.PruneMailOutbox(ctx, db.PruneMailOutboxParams{SentBefore: ptr(now.Add(-7 * 24 * time.Hour)), DeadBefore: now.Add(-30 * 24 * time.Hour)}),
	)
}
