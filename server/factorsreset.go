package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
)

// ErrNoSuchAccount means no account has the address given.
var ErrNoSuchAccount = errors.New("no account has this address")

// ResetFactors is the operator's answer to a user who lost every factor and
// every recovery code (`authd mfa reset EMAIL`). In one transaction it
// removes the account's authenticator apps, passkeys, recovery codes and
// login challenges, ends
// every session (whoever holds one may be the reason), records
// factor_removed and mails the account's address the notice of a removed
// factor, so an owner who did not ask learns of it. The account then logs
// in with its password alone. It returns how many active factors went.
func (s *Server) ResetFactors(ctx context.Context, email string) (int64, error) {
	ctx = withInfo(ctx, &requestInfo{id: "authd mfa reset"})
	var removed int64
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		u, err := q.GetUserByEmail(ctx, normalizeEmail(email))
		if errors.Is(err, database.ErrNotFound) {
			return ErrNoSuchAccount
		}
		if err != nil {
			return err
		}
		// Challenges, then the user, then factors: a login's second step
		// takes them in this order.
		if err := q.LockUserMfaChallenges(ctx, u.ID); err != nil {
			return err
		}
		if err := lockFactorsOf(ctx, q, u.ID); err != nil {
			return err
		}
		if removed, err = q.ResetUserFactors(ctx, u.ID); err != nil {
			return err
		}
		if _, err := q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: u.ID, Now: s.now()}); err != nil {
			return err
		}
		if err := s.recordSecurityEvent(ctx, q, u.ID, evFactorRemoved, nil); err != nil {
			return err
		}
		return s.noticeMail(ctx, q, mail.KindFactorRemoved, u.ID, u.Email)
	})
	return removed, err
}
