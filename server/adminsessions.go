package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// RevokeAdminUserSessions implements api.StrictServerInterface: every live
// session of the user ends; their access tokens stop working at once.
func (s *Server) RevokeAdminUserSessions(ctx context.Context, req api.RevokeAdminUserSessionsRequestObject) (api.RevokeAdminUserSessionsResponseObject, error) {
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		if _, err := q.LockUserCredentials(ctx, req.Id); err != nil {
			return err
		}
		if _, err := guardTarget(ctx, q, req.Id); err != nil {
			return err
		}
		if err := s.countRevoked(ctx, "admin_revoked")(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: req.Id, Now: s.now()})); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, req.Id, evAdminSessionsRevoke, nil)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.RevokeAdminUserSessions404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	case err != nil:
		return nil, err
	}
	return api.RevokeAdminUserSessions204Response{}, nil
}

// RevokeAdminUserSession implements api.StrictServerInterface: one live
// session of the user ends. Unknown and ended sessions, and other users',
// answer the same 404.
func (s *Server) RevokeAdminUserSession(ctx context.Context, req api.RevokeAdminUserSessionRequestObject) (api.RevokeAdminUserSessionResponseObject, error) {
	var n int64
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		if _, err := guardTarget(ctx, q, req.Id); err != nil {
			return notFoundMeans(err, nil) // no user: no session of theirs, the 404 below
		}
		n, err = q.RevokeUserSession(ctx, db.RevokeUserSessionParams{ID: req.Sid, UserID: req.Id, Now: s.now()})
		if err != nil || n == 0 {
			return err
		}
		return s.recordSecurityEvent(ctx, q, req.Id, evAdminSessionsRevoke, &req.Sid)
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return api.RevokeAdminUserSession404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such session of this user.")}, nil
	}
	_ = s.countRevoked(ctx, "admin_revoked")(n, nil) // only counts: a nil error passes through
	return api.RevokeAdminUserSession204Response{}, nil
}

// ListAdminUserEvents implements api.StrictServerInterface: the user's
// events as GET /users/me/events pages them, with each actor in full.
func (s *Server) ListAdminUserEvents(ctx context.Context, req api.ListAdminUserEventsRequestObject) (api.ListAdminUserEventsResponseObject, error) {
	if _, err := s.db.Queries().GetUserByID(ctx, req.Id); errors.Is(err, database.ErrNotFound) {
		return api.ListAdminUserEvents404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such user.")}, nil
	} else if err != nil {
		return nil, err
	}
	page, err := s.eventPage(ctx, req.Id, req.Params.Cursor, req.Params.Limit, true)
	switch {
	case errors.Is(err, errForeignCursor):
		return api.ListAdminUserEvents400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, foreignCursor)}, nil
	case err != nil:
		return nil, err
	}
	return api.ListAdminUserEvents200JSONResponse(page), nil
}
