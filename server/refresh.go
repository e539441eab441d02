package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/token"
)

// errRefreshRefused means the presented token is unknown, expired or
// revoked: the transaction changes nothing and the client gets the 401.
var errRefreshRefused = errors.New("refresh token refused")

// RefreshToken implements api.StrictServerInterface: rotation with reuse
// detection (RFC 9700 §4.14.2) and an idempotent retry.
//
// The presented token and its session are locked, so refreshes of one session
// run one at a time. A current token is rotated. A rotated token is either a
// retry of the immediate predecessor by the client that rotated it, within
// the retry window and while its successor is unused, which gets that same
// successor back, or a replay,
// which revokes the session. The successor is kept sealed in the
// predecessor's row only while such a retry can apply: the next rotation
// clears it, and so does the pruner once the window has passed.
func (s *Server) RefreshToken(ctx context.Context, req api.RefreshTokenRequestObject) (api.RefreshTokenResponseObject, error) {
	presented := req.Body.RefreshToken
	client := clientip.Key(infoFrom(ctx).ip) // a retry must come from the client that rotated
	var row db.LockRefreshTokenRow
	var next string
	var replayed bool
	var outcome string // the metric's label: how the token was answered
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		if row, err = q.LockRefreshToken(ctx, token.HashOpaque(presented)); err != nil {
			if errors.Is(err, database.ErrNotFound) {
				outcome, err = "unknown", errRefreshRefused
			}
			return err
		}
		now := s.now()
		switch {
		case !row.ExpiresAt.After(now):
			outcome = "expired"
			return errRefreshRefused
		case row.RevokedAt != nil || !row.IsActive:
			outcome = "revoked"
			return errRefreshRefused
		}
		if row.RotatedAt == nil {
			outcome, next = "rotated", token.NewOpaque()
			return q.RotateRefreshToken(ctx, db.RotateRefreshTokenParams{
				ID: row.ID, SessionID: row.SessionID, Now: now,
				SuccessorHash: token.HashOpaque(next), SuccessorSealed: token.SealSuccessor(presented, next, row.SessionID, row.ID, client),
			})
		}
		if now.Sub(*row.RotatedAt) <= s.refreshRetry && row.SuccessorID != nil && row.SuccessorSealed != nil {
			succRotated, err := q.RefreshTokenRotatedAt(ctx, *row.SuccessorID)
			if err != nil {
				return err
			}
			if succRotated == nil {
				if next, err = token.OpenSuccessor(presented, row.SuccessorSealed, row.SessionID, row.ID, client); err == nil {
					outcome = "grace_retry"
					return nil
				}
			}
		}
		replayed, outcome = true, "reuse_detected"
		if err := s.countRevoked(ctx, "refresh_reuse")(q.RevokeSession(ctx, db.RevokeSessionParams{ID: row.SessionID, Now: now})); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, row.UserID, evRefreshReuse, &row.SessionID)
	})
	if err == nil || errors.Is(err, errRefreshRefused) {
		s.metrics.Refreshes.WithLabelValues(outcome).Inc()
	}
	refused := api.RefreshToken401ApplicationProblemPlusJSONResponse{InvalidRefreshTokenApplicationProblemPlusJSONResponse: invalidRefreshToken(ctx)}
	switch {
	case errors.Is(err, errRefreshRefused):
		return refused, nil
	case err != nil:
		return nil, err
	case replayed:
		infoFrom(ctx).userID = row.UserID.String()
		s.log.WarnContext(ctx, "refresh token reuse detected; session revoked", "session_id", row.SessionID.String())
		return refused, nil
	}
	infoFrom(ctx).userID = row.UserID.String()
	pair, err := s.issuePair(token.Claims{UserID: row.UserID, SessionID: row.SessionID, AMR: row.Amr, AuthTime: row.AuthTime, Roles: row.Roles}, next, row.ExpiresAt)
	if err != nil {
		return nil, err
	}
	return api.RefreshToken200JSONResponse{TokenPairJSONResponse: pair}, nil
}
