package server

import (
	"context"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
)

// GetMe implements api.StrictServerInterface.
func (s *Server) GetMe(ctx context.Context, _ api.GetMeRequestObject) (api.GetMeResponseObject, error) {
	return api.GetMe200JSONResponse(userJSON(caller(ctx).user)), nil
}

// UpdateMe implements api.StrictServerInterface. A new password revokes every
// other session of the user in the same transaction.
func (s *Server) UpdateMe(ctx context.Context, req api.UpdateMeRequestObject) (api.UpdateMeResponseObject, error) {
	me := caller(ctx)
	if ok, _, _ := s.Hasher.Verify(req.Body.CurrentPassword, me.user.PasswordHash); !ok {
		return api.UpdateMe403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: api.WrongPasswordApplicationProblemPlusJSONResponse(
			problem(ctx, kindWrongPassword, "The current password is incorrect."))}, nil
	}
	params := db.UpdateUserParams{ID: me.user.ID}
	if req.Body.Email != nil {
		params.Email = ptr(normalizeEmail(*req.Body.Email))
	}
	if req.Body.Password != nil {
		hash, err := s.Hasher.Hash(*req.Body.Password)
		if err != nil {
			return nil, err
		}
		params.PasswordHash = &hash
	}
	var u db.User
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		if u, err = q.UpdateUser(ctx, params); err != nil {
			return err
		}
		if params.PasswordHash == nil {
			return nil
		}
		return q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID, Keep: &me.sessionID})
	})
	if database.IsUniqueViolation(err, "users_email_key") {
		return api.UpdateMe409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: api.ConflictApplicationProblemPlusJSONResponse(
			problem(ctx, kindEmailTaken, "An account with this email already exists."))}, nil
	}
	if err != nil {
		return nil, err
	}
	return api.UpdateMe200JSONResponse(userJSON(u)), nil
}

// DeleteMe implements api.StrictServerInterface: a soft delete that ends
// every session at once.
func (s *Server) DeleteMe(ctx context.Context, _ api.DeleteMeRequestObject) (api.DeleteMeResponseObject, error) {
	me := caller(ctx)
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		if err := q.DeactivateUser(ctx, me.user.ID); err != nil {
			return err
		}
		return q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID})
	})
	if err != nil {
		return nil, err
	}
	return api.DeleteMe204Response{}, nil
}
