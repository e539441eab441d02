package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/password"
)

// checkCurrentPassword verifies the caller's current_password as a login
// verifies a password, since a stolen access token guessing it is a login
// attempt by other means: the attempt counts for the (address, client)
// backoff before the hash (admitLogin, shared with logins), a wrong password
// leaves a login_failed event with the session that sent it, and the right
// one forgives this client. A refusal of the backoff is its 429 error.
func (s *Server) checkCurrentPassword(ctx context.Context, pw string) (bool, error) {
	me, ip := caller(ctx), infoFrom(ctx).ip
	if refused, err := s.admitLogin(ctx, me.user.Email, ip); err != nil || refused != nil {
		if err != nil {
			return false, err
		}
		return false, refused.problem()
	}
	ok, _, err := s.Hasher.Verify(ctx, pw, me.user.PasswordHash)
	if err != nil && !errors.Is(err, password.ErrUnknownHash) {
		return false, err
	}
	if !ok {
		err := s.DB.InTx(ctx, func(q *db.Queries) error { return s.record(ctx, q, me.user.ID, evLoginFailed, &me.sessionID) })
		if err != nil {
			s.Log.WarnContext(ctx, "could not record a failed password check", "error", err.Error())
		}
		return false, nil
	}
	s.forgiveLogin(ctx, me.user.Email, ip)
	return true, nil
}
