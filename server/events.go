package server

import (
	"context"
	"strconv"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// Kinds of security events, as stored and as listed (api.EventKind).
const (
	evRegistered     = "registered"
	evEmailVerified  = "email_verified"
	evLoginSucceeded = "login_succeeded"
	evLoginFailed    = "login_failed"
	evLogout         = "logout"
	evSessionRevoked = "session_revoked"
	evRefreshReuse   = "refresh_reuse_detected"
	evPasswordChange = "password_changed"
	evPasswordReset  = "password_reset"
	evEmailChanged   = "email_changed"
	evDeactivated    = "account_deactivated"
)

// record writes a security event with the request's IP, user agent and id,
// in q's transaction: it exists exactly when the change it records does.
func (s *Server) record(ctx context.Context, q *db.Queries, userID uuid.UUID, kind string, sessionID *uuid.UUID) error {
	info := infoFrom(ctx)
	return q.RecordEvent(ctx, db.RecordEventParams{
		UserID: userID, Kind: kind, SessionID: sessionID, Ip: info.ip, UserAgent: info.userAgent, RequestID: info.id,
	})
}

// ListEvents implements api.StrictServerInterface: a page of the caller's
// events, newest first, with the cursor of the next page.
func (s *Server) ListEvents(ctx context.Context, req api.ListEventsRequestObject) (api.ListEventsResponseObject, error) {
	limit := 20
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	var before *int64
	if req.Params.Cursor != nil {
		id, err := strconv.ParseInt(*req.Params.Cursor, 10, 64)
		if err != nil { // the spec's pattern admits 19 digits that overflow
			return nil, &problemError{kind: kindBadRequest, detail: "The cursor is not one this service issued."}
		}
		before = &id
	}
	// One more than asked tells whether another page follows.
	rows, err := s.db.Queries().ListEvents(ctx, db.ListEventsParams{UserID: caller(ctx).user.ID, Before: before, MaxRows: int32(limit + 1)})
	if err != nil {
		return nil, err
	}
	page := api.EventPage{Events: make([]api.Event, 0, min(len(rows), limit))}
	for i, r := range rows {
		if i == limit {
			page.NextCursor = ptr(strconv.FormatInt(rows[i-1].ID, 10))
			break
		}
		page.Events = append(page.Events, api.Event{
			Kind: api.EventKind(r.Kind), CreatedAt: r.CreatedAt.UTC(), SessionId: r.SessionID,
			Ip: r.Ip, UserAgent: cleanHeader(r.UserAgent, 512), RequestId: r.RequestID, // see sessionJSON
		})
	}
	return api.ListEvents200JSONResponse(page), nil
}
