package server

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// GetMe implements api.StrictServerInterface.
func (s *Server) GetMe(ctx context.Context, _ api.GetMeRequestObject) (api.GetMeResponseObject, error) {
	return api.GetMe200JSONResponse(userJSON(caller(ctx).user)), nil
}

// UpdateMe implements api.StrictServerInterface. The change commits only if
// the caller's session is still live and the password it was checked against
// is still the stored one. A new password takes effect at once and revokes
// every other session and every mailed link; a new email is only requested
// (see requestEmailChange).
func (s *Server) UpdateMe(ctx context.Context, req api.UpdateMeRequestObject) (api.UpdateMeResponseObject, error) {
	me := caller(ctx)
	wrongCurrent := api.UpdateMe403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}
	ok, err := s.checkCurrentPassword(ctx, &req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.UpdateMe429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return wrongCurrent, nil
	}
	var newEmail, newHash string
	if req.Body.Email != nil {
		newEmail = normalizeEmail(*req.Body.Email)
	}
	if req.Body.Password != nil {
		msgs := s.policy.Violations(*req.Body.Password, me.user.Email)
		if newEmail != "" {
			msgs = append(msgs, s.policy.Violations(*req.Body.Password, newEmail)...)
		}
		if len(msgs) > 0 {
			return api.UpdateMe422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: weakPassword(ctx, dedupe(msgs), "password")}, nil
		}
		if newHash, err = s.hasher.Hash(ctx, *req.Body.Password); err != nil {
			return nil, err
		}
	}
	u := me.user
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if _, err := q.LockLiveSession(ctx, db.LockLiveSessionParams{ID: me.sessionID, Now: s.now()}); err != nil {
			return notFoundMeans(err, errSessionEnded)
		}
		cur, err := q.LockUserCredentials(ctx, me.user.ID)
		if err != nil {
			return err
		}
		if !cur.IsActive { // deactivated since authentication: its sessions are over
			return errSessionEnded
		}
		if cur.PasswordHash != me.user.PasswordHash {
			return errCredentialsChanged
		}
		if newHash != "" {
			if u, err = s.replacePassword(ctx, q, me.user.ID, newHash, &me.sessionID, "password_change"); err != nil {
				return err
			}
			if err := s.recordSecurityEvent(ctx, q, me.user.ID, evPasswordChange, &me.sessionID); err != nil {
				return err
			}
		}
		if newEmail != "" {
			return s.requestEmailChange(ctx, q, u, newEmail)
		}
		return nil
	})
	switch {
	case errors.Is(err, errCredentialsChanged):
		return wrongCurrent, nil
	case errors.Is(err, errSessionEnded):
		ended := sessionEnded(ctx)
		return api.UpdateMe401ApplicationProblemPlusJSONResponse{StepUpRequiredApplicationProblemPlusJSONResponse: api.StepUpRequiredApplicationProblemPlusJSONResponse{
			Body: ended.Body, Headers: api.StepUpRequiredResponseHeaders(ended.Headers),
		}}, nil
	case err != nil:
		return nil, err
	}
	return api.UpdateMe200JSONResponse(userJSON(u)), nil
}

// errSessionEnded means the caller's session ended while the request ran.
var errSessionEnded = errors.New("session ended during the request")

// DeleteMe implements api.StrictServerInterface: a soft delete that ends
// every session at once, or with erase=true the erasure of the account
// (eraseUser). It asks for the current password as UpdateMe does, so a
// stolen access token cannot end the account for good. The last active
// admin can do neither (409).
func (s *Server) DeleteMe(ctx context.Context, req api.DeleteMeRequestObject) (api.DeleteMeResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.DeleteMe429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.DeleteMe422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.DeleteMe403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	if req.Params.Erase != nil && *req.Params.Erase {
		err = s.eraseUser(ctx, me.user.ID)
	} else {
		err = s.deactivate(ctx, me)
	}
	switch {
	case errors.Is(err, errLastAdmin):
		return api.DeleteMe409ApplicationProblemPlusJSONResponse{LastAdminApplicationProblemPlusJSONResponse: lastAdmin(ctx)}, nil
	case errors.Is(err, errNoSuchUser): // erased by an admin meanwhile
		ended := sessionEnded(ctx)
		return api.DeleteMe401ApplicationProblemPlusJSONResponse{StepUpRequiredApplicationProblemPlusJSONResponse: api.StepUpRequiredApplicationProblemPlusJSONResponse{
			Body: ended.Body, Headers: api.StepUpRequiredResponseHeaders(ended.Headers),
		}}, nil
	case err != nil:
		return nil, err
	}
	return api.DeleteMe204Response{}, nil
}

// deactivate is DeleteMe's soft delete: the account inactive, every
// session ended, an account_deactivated event. lockUser decides on the
// row as it is now whether the caller is the last active admin.
func (s *Server) deactivate(ctx context.Context, me *principal) error {
	return s.db.InTx(ctx, func(q *db.Queries) error {
		if _, err := lockUser(ctx, q, me.user, true); err != nil {
			return notFoundMeans(err, errNoSuchUser)
		}
		if err := q.DeactivateUser(ctx, db.DeactivateUserParams{ID: me.user.ID, Now: s.now()}); err != nil {
			return err
		}
		if err := s.countRevoked(ctx, "account_deleted")(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID, Now: s.now()})); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, me.user.ID, evDeactivated, &me.sessionID)
	})
}

// replacePassword stores a new password hash and ends what the old password
// opened (see endAccess).
func (s *Server) replacePassword(ctx context.Context, q *db.Queries, userID uuid.UUID, hash string, keep *uuid.UUID, reason string) (db.User, error) {
	u, err := q.ChangePassword(ctx, db.ChangePasswordParams{ID: userID, PasswordHash: hash, Now: s.now()})
	if err != nil {
		return u, err
	}
	return u, s.endAccess(ctx, q, userID, keep, reason)
}

// endAccess is what a change of the account's password or email ends:
// every mailed link, and every session but keep (nil: all of them).
func (s *Server) endAccess(ctx context.Context, q *db.Queries, userID uuid.UUID, keep *uuid.UUID, reason string) error {
	if err := q.DeleteAccountTokens(ctx, userID); err != nil {
		return err
	}
	return s.countRevoked(ctx, reason)(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: userID, Keep: keep, Now: s.now()}))
}

// dedupe drops repeated messages, keeping the first of each.
func dedupe(msgs []string) []string {
	seen := map[string]bool{}
	out := msgs[:0]
	for _, m := range msgs {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}
