package server

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// ForgotPassword implements api.StrictServerInterface.
func (s *Server) ForgotPassword(ctx context.Context, req api.ForgotPasswordRequestObject) (api.ForgotPasswordResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	u, err := s.db.Queries().GetUserByEmail(ctx, email)
	if err != nil && !errors.Is(err, database.ErrNotFound) {
		return nil, err
	}
	active := err == nil && u.IsActive
	// Every address asks the throttle, account or not, so that the
	// limiter's round trip does not tell them apart.
	allowed, err := s.mayMail(ctx, mail.KindPasswordReset, email, active)
	if err != nil {
		return nil, err
	}
	if allowed && active {
		err = s.db.InTx(ctx, func(q *db.Queries) error {
			link, err := s.issueToken(ctx, q, u.ID, tokenPasswordReset, nil)
			if err != nil {
				return err
			}
			return s.queueMail(ctx, q, mail.KindPasswordReset, &u.ID, u.Email, mail.Data{Email: u.Email, Link: link, ExpiresIn: humanTTL(s.mail.ResetTTL)})
		})
	} else {
		// Unknown, inactive or throttled: the same work, thrown away.
		err = s.decoyMail(ctx, mail.KindPasswordReset, email)
	}
	if err != nil {
		return nil, err
	}
	return api.ForgotPassword202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse{Body: acceptedMail}}, nil
}

// ResetPassword implements api.StrictServerInterface. The new password
// ends every session and every other outstanding link; receiving the mail
// also proves the address, so it counts as verified, and the identities and
// passkeys added before the address was proved go (dropUnprovedLogins).
func (s *Server) ResetPassword(ctx context.Context, req api.ResetPasswordRequestObject) (api.ResetPasswordResponseObject, error) {
	refused := api.ResetPassword400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: invalidToken(ctx)}
	hash := token.HashOpaque(req.Body.Token)
	q := s.db.Queries()
	// Find the user first: the policy needs the email, and hashing belongs
	// outside the transaction.
	userID, err := q.PeekAccountToken(ctx, db.PeekAccountTokenParams{TokenHash: hash, Kind: tokenPasswordReset, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return refused, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := q.GetUserByID(ctx, userID)
	if err != nil {
		return nil, err
	}
	if msgs := s.policy.Violations(req.Body.NewPassword, u.Email); len(msgs) > 0 {
		return api.ResetPassword422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: weakPassword(ctx, msgs, "new_password")}, nil
	}
	newHash, err := s.hasher.Hash(ctx, req.Body.NewPassword)
	if err != nil {
		return nil, err
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		row, err := q.ConsumeAccountToken(ctx, db.ConsumeAccountTokenParams{TokenHash: hash, Kind: tokenPasswordReset, Now: s.now()})
		if err != nil {
			return notFoundMeans(err, errLinkVoid) // used up meanwhile
		}
		if row.UserID != u.ID {
			return errLinkVoid
		}
		cur, err := s.replacePassword(ctx, q, u.ID, newHash, nil, "password_reset")
		if err != nil {
			return notFoundMeans(err, errLinkVoid) // the account was deactivated
		}
		if _, err = q.MarkEmailVerified(ctx, db.MarkEmailVerifiedParams{ID: u.ID, Now: s.now()}); err != nil {
			return err
		}
		if err := s.dropUnprovedLogins(ctx, q, u.ID, cur.EmailVerifiedAt); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evPasswordReset, nil)
	})
	if errors.Is(err, errLinkVoid) {
		return refused, nil
	}
	if err != nil {
		return nil, err
	}
	s.forgiveLogin(ctx, u.Email, infoFrom(ctx).ip)
	infoFrom(ctx).userID = u.ID.String()
	s.log.InfoContext(ctx, "password reset; every session revoked")
	return api.ResetPassword204Response{}, nil
}

// dropUnprovedLogins removes, in q's transaction (which holds the user
// row: ChangePassword updated it), the identities and passkeys added while
// the account's address was not proved (verifiedAt, as it was before this
// reset: never, or later than they were added), each recorded as its
// removal. A reset proves the address; those log in without the password,
// and may be how someone who squatted the address (through a provider that
// does not verify addresses) would keep a way in after the owner took the
// account back. Authenticator apps stay: they never log in alone, and a
// reset must not strip the second factor of whoever can read the mailbox.
func (s *Server) dropUnprovedLogins(ctx context.Context, q *db.Queries, userID uuid.UUID, verifiedAt *time.Time) error {
	identities, err := q.DeleteIdentitiesAddedUnproved(ctx, db.DeleteIdentitiesAddedUnprovedParams{UserID: userID, VerifiedAt: verifiedAt})
	if err != nil {
		return err
	}
	passkeys, err := q.DeletePasskeysAddedUnproved(ctx, db.DeletePasskeysAddedUnprovedParams{UserID: userID, VerifiedAt: verifiedAt})
	if err != nil {
		return err
	}
	events := make([]securityEvent, 0, len(identities)+len(passkeys))
	for range identities {
		events = append(events, evIdentityUnlinked)
	}
	for range passkeys {
		events = append(events, evPasskeyRemoved)
	}
	for _, ev := range events {
		if err := s.recordSecurityEvent(ctx, q, userID, ev, nil); err != nil {
			return err
		}
	}
	if len(passkeys) == 0 {
		return nil
	}
	return s.dropCodesWithoutFactor(ctx, q, userID)
}
