package server

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
)

// errLastLoginMethod means a removal would leave the account no way to log
// in: no password, no passkey, no identity.
var errLastLoginMethod = errors.New("last login method")

// keepLoginMethod returns errLastLoginMethod when, after a removal made in
// q's transaction, the user has no way left to log in, so that the caller
// rolls the removal back. The transaction holds the user row
// (lockFactorsOf), so of concurrent removals the last one sees what the
// others left.
func keepLoginMethod(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	m, err := q.LoginMethods(ctx, userID)
	if err != nil {
		return err
	}
	if !m.HasPassword && m.Passkeys == 0 && m.Identities == 0 {
		return errLastLoginMethod
	}
	return nil
}

// ListIdentities implements api.StrictServerInterface: the caller's
// provider identities, oldest first.
func (s *Server) ListIdentities(ctx context.Context, _ api.ListIdentitiesRequestObject) (api.ListIdentitiesResponseObject, error) {
	rows, err := s.db.Queries().ListIdentities(ctx, caller(ctx).user.ID)
	if err != nil {
		return nil, err
	}
	list := api.IdentityList{Identities: make([]api.Identity, len(rows))}
	for i, r := range rows {
		list.Identities[i] = identityJSON(r)
	}
	return api.ListIdentities200JSONResponse(list), nil
}

// DeleteIdentity implements api.StrictServerInterface (behind step-up): one
// of the caller's identities no longer logs in, after current_password is
// checked (when the account has a password). Under the user row, like every
// change to the ways of logging in, and refused when it is the last one.
// Recorded (identity_unlinked) and mailed.
func (s *Server) DeleteIdentity(ctx context.Context, req api.DeleteIdentityRequestObject) (api.DeleteIdentityResponseObject, error) {
	me := caller(ctx)
	ok, err := s.checkCurrentPassword(ctx, req.Body.CurrentPassword)
	var wait *refusal
	switch {
	case errors.As(err, &wait):
		return api.DeleteIdentity429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case errors.Is(err, errCurrentPasswordRequired):
		return api.DeleteIdentity422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: currentPasswordRequired(ctx)}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.DeleteIdentity403ApplicationProblemPlusJSONResponse{WrongPasswordApplicationProblemPlusJSONResponse: wrongCurrentPassword(ctx)}, nil
	}
	// The path's ref is an identity's id here; anything else names none.
	id, err := uuid.Parse(req.Ref)
	if err != nil {
		return api.DeleteIdentity404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such identity.")}, nil
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := lockFactorsOf(ctx, q, me.user.ID); err != nil {
			return err
		}
		gone, err := q.DeleteIdentity(ctx, db.DeleteIdentityParams{ID: id, UserID: me.user.ID})
		if err != nil {
			return err
		}
		if err := keepLoginMethod(ctx, q, me.user.ID); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, me.user.ID, evIdentityUnlinked, &me.sessionID); err != nil {
			return err
		}
		return s.identityNotice(ctx, q, mail.KindIdentityUnlinked, me.user.ID, me.user.Email, gone.Provider)
	})
	switch {
	case errors.Is(err, database.ErrNotFound):
		return api.DeleteIdentity404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such identity.")}, nil
	case errors.Is(err, errLastLoginMethod):
		return api.DeleteIdentity409ApplicationProblemPlusJSONResponse{LastLoginMethodApplicationProblemPlusJSONResponse: lastLoginMethod(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return api.DeleteIdentity204Response{}, nil
}
