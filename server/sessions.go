package server

import (
	"context"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// ListSessions implements api.StrictServerInterface.
func (s *Server) ListSessions(ctx context.Context, _ api.ListSessionsRequestObject) (api.ListSessionsResponseObject, error) {
	me := caller(ctx)
	rows, err := s.db.Queries().ListLiveSessions(ctx, db.ListLiveSessionsParams{UserID: me.user.ID, Now: s.now()})
	if err != nil {
		return nil, err
	}
	list := api.SessionList{Sessions: make([]api.Session, len(rows))}
	for i, r := range rows {
		list.Sessions[i] = sessionJSON(r, r.ID == me.sessionID)
	}
	return api.ListSessions200JSONResponse(list), nil
}

// RevokeSession implements api.StrictServerInterface. Unknown, ended and
// other users' sessions answer the same 404.
func (s *Server) RevokeSession(ctx context.Context, req api.RevokeSessionRequestObject) (api.RevokeSessionResponseObject, error) {
	var n int64
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		n, err = q.RevokeUserSession(ctx, db.RevokeUserSessionParams{ID: req.Id, UserID: caller(ctx).user.ID, Now: s.now()})
		if err != nil || n == 0 {
			return err
		}
		return s.recordSecurityEvent(ctx, q, caller(ctx).user.ID, evSessionRevoked, &req.Id)
	})
	if err != nil {
		return nil, err
	}
	_ = s.countRevoked(ctx, "user_revoked")(n, nil) // only counts: a nil error passes through
	if n == 0 {
		return api.RevokeSession404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such session.")}, nil
	}
	return api.RevokeSession204Response{}, nil
}
