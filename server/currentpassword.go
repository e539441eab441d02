package server

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/password"
)

// errCurrentPasswordRequired means an account with a password sent no
// current_password: the 422 of currentPasswordRequired.
var errCurrentPasswordRequired = errors.New("current_password required")

// checkCurrentPassword is the one rule for current_password. An account
// with a password must send it (errCurrentPasswordRequired otherwise), and
// it is verified as a login verifies a password, since a stolen access
// token guessing it is a login attempt by other means (see
// checkPasswordLikeLogin). An account without a password (created by a
// federated login) sends none and relies on step-up alone; one it sends
// anyway is checked the same way and matches nothing (password.NoPassword),
// so it is a wrong password, counted and recorded as one.
func (s *Server) checkCurrentPassword(ctx context.Context, pw *string) (bool, error) {
	me := caller(ctx)
	if pw == nil {
		if me.user.PasswordHash != password.NoPassword {
			return false, errCurrentPasswordRequired
		}
		return true, nil
	}
	return s.checkPasswordLikeLogin(ctx, me.user, *pw, &me.sessionID)
}

// currentPasswordRequired is the 422 of an account with a password that
// sent no current_password, worded as the request validator words a
// missing field.
func currentPasswordRequired(ctx context.Context) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	p := problem(ctx, typeValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: "current_password", Message: "is required"}}
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(p)
}

// wrongCurrentPassword is the 403 of every endpoint that checks
// current_password.
func wrongCurrentPassword(ctx context.Context) api.WrongPasswordApplicationProblemPlusJSONResponse {
	return wrongPassword(ctx, "The current password is incorrect.")
}

// checkPasswordLikeLogin verifies pw against u's password outside a login
// (current_password, or the password that redeems an older account's
// verification link): the attempt counts for the (address, client) backoff
// before the hash (admitLogin, shared with logins), a wrong password leaves
// a login_failed event (with the session that sent it, if any), and the
// right one forgives this client. A refusal of the backoff is returned as
// its error (*refusal), for the handler to answer its 429.
func (s *Server) checkPasswordLikeLogin(ctx context.Context, u db.User, pw string, session *uuid.UUID) (bool, error) {
	ip := infoFrom(ctx).ip
	if wait, err := s.admitLogin(ctx, u.Email, ip); err != nil || wait != nil {
		if err != nil {
			return false, err
		}
		return false, wait
	}
	ok, _, err := s.hasher.Verify(ctx, pw, u.PasswordHash)
	if errors.Is(err, password.ErrUnknownHash) {
		s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID.String())
	} else if err != nil {
		return false, err
	}
	if !ok {
		err := s.db.InTx(ctx, func(q *db.Queries) error { return s.recordSecurityEvent(ctx, q, u.ID, evLoginFailed, session) })
		if err != nil {
			s.log.WarnContext(ctx, "could not record a failed password check", "error", err.Error())
		}
		return false, nil
	}
	s.forgiveLogin(ctx, u.Email, ip)
	return true, nil
}
