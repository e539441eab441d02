package server

import (
	"context"
	"errors"

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
			return s.queueMail(ctx, q, mail.KindPasswordReset, u.Email, mail.Data{Email: u.Email, Link: link, ExpiresIn: humanTTL(s.mail.ResetTTL)})
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
// also proves the address, so it counts as verified, and the identities
// whose provider never verified it stop logging in to the account.
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
		if _, err := s.replacePassword(ctx, q, u.ID, newHash, nil, "password_reset"); err != nil {
			return notFoundMeans(err, errLinkVoid) // the account was deactivated
		}
		if _, err = q.MarkEmailVerified(ctx, db.MarkEmailVerifiedParams{ID: u.ID, Now: s.now()}); err != nil {
			return err
		}
		if err := s.unlinkUnverifiedIdentities(ctx, q, u.ID); err != nil {
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

// unlinkUnverifiedIdentities removes, in q's transaction (which holds the
// user row: ChangePassword updated it), the user's identities whose
// provider did not say it verified the address, each recorded as
// identity_unlinked. A reset proves the address; these never did, and one
// of them may be how someone else got in before the owner took the account
// back.
func (s *Server) unlinkUnverifiedIdentities(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	gone, err := q.DeleteUnverifiedIdentities(ctx, userID)
	if err != nil {
		return err
	}
	for range gone {
		if err := s.recordSecurityEvent(ctx, q, userID, evIdentityUnlinked, nil); err != nil {
			return err
		}
	}
	return nil
}
