package server

import (
	"context"
	"errors"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// acceptedMail is the one answer of every endpoint that may send mail, so
// that it never tells whether an address has an account.
var acceptedMail = api.Accepted{Status: api.AcceptedStatusAccepted, Detail: "If the address belongs to an account, a mail is on its way."}

// errLinkVoid means a mailed link cannot be used: it is unknown, used up or
// expired, or what it carries no longer applies to its account. Every such
// link gets the same answer (invalidToken).
var errLinkVoid = errors.New("mailed link is void")

// VerifyEmail implements api.StrictServerInterface. The link proves the
// mailbox and nothing else: a pending registration becomes an account with
// the password typed here, so no account ever gets a password its redeemer
// did not supply. An account from before verification was required must
// name its own password. A refused password leaves the link working.
func (s *Server) VerifyEmail(ctx context.Context, req api.VerifyEmailRequestObject) (api.VerifyEmailResponseObject, error) {
	hash, q, pw := token.HashOpaque(req.Body.Token), s.db.Queries(), req.Body.Password
	var u db.User
	var weak []string
	ok := true
	// A link mailed before the upgrade is an account token; links mailed
	// since are on the address's pending row, for new and older accounts.
	userID, err := q.PeekAccountToken(ctx, db.PeekAccountTokenParams{TokenHash: hash, Kind: tokenVerifyEmail, Now: s.now()})
	if err == nil {
		if u, err = q.GetUserByID(ctx, userID); err == nil {
			u, ok, err = s.verifyAccount(ctx, u, pw, func(q *db.Queries) error {
				row, err := q.ConsumeAccountToken(ctx, db.ConsumeAccountTokenParams{TokenHash: hash, Kind: tokenVerifyEmail, Now: s.now()})
				if err == nil && row.UserID != userID {
					err = errLinkVoid
				}
				return notFoundMeans(err, errLinkVoid)
			})
		}
	} else if errors.Is(err, database.ErrNotFound) {
		var email string
		if email, err = q.PeekPendingToken(ctx, db.PeekPendingTokenParams{TokenHash: hash, Now: s.now()}); err == nil {
			u, ok, weak, err = s.redeemPending(ctx, email, hash, pw)
		} else {
			err = notFoundMeans(err, errLinkVoid)
		}
	}
	var wait *refusal
	switch {
	case errors.Is(err, errLinkVoid):
		return api.VerifyEmail400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: invalidToken(ctx)}, nil
	case errors.As(err, &wait):
		return api.VerifyEmail429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	case err != nil:
		return nil, err
	case len(weak) > 0:
		return api.VerifyEmail422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: weakPassword(ctx, weak, "password")}, nil
	case !ok:
		return api.VerifyEmail403ApplicationProblemPlusJSONResponse(wrongPassword(ctx, "The password is not this account's password.")), nil
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.VerifyEmail200JSONResponse(userJSON(u)), nil
}

// verifyAccount verifies the address of an account from before verification
// was required; pw must be the account's password (ok is false for a wrong
// one, and a refusal of the login backoff is its error). consume uses the
// link up in the transaction that marks the address, or returns errLinkVoid.
func (s *Server) verifyAccount(ctx context.Context, u db.User, pw string, consume func(q *db.Queries) error) (db.User, bool, error) {
	if !u.IsActive || u.EmailVerifiedAt != nil {
		return u, false, errLinkVoid // nothing left to verify
	}
	// Anyone holding the link could otherwise guess the account's password
	// here without a trace: it counts like a login.
	ok, err := s.checkPasswordLikeLogin(ctx, u, pw, nil)
	if err != nil || !ok {
		return u, false, err
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := consume(q); err != nil {
			return err
		}
		// The checked password must still be the account's.
		cur, err := q.LockUserCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash || !cur.IsActive {
			return errCredentialsChanged
		}
		if u, err = q.MarkEmailVerified(ctx, db.MarkEmailVerifiedParams{ID: u.ID, Now: s.now()}); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evEmailVerified, nil)
	})
	if errors.Is(err, errCredentialsChanged) {
		return u, false, nil
	}
	return u, err == nil, err
}

// redeemPending redeems a live link (hash) of email's pending registration.
// Without an account, pw must pass the policy (weak lists why not, and the
// link stays) and becomes the password of the account created here. An
// account from before verification was required verifies with its own
// password. Of concurrent redemptions, one uses the link up; the others get
// errLinkVoid.
func (s *Server) redeemPending(ctx context.Context, email string, hash []byte, pw string) (u db.User, ok bool, weak []string, err error) {
	consume := func(q *db.Queries) error {
		_, err := q.ConsumePendingToken(ctx, db.ConsumePendingTokenParams{TokenHash: hash, Now: s.now()})
		return notFoundMeans(err, errLinkVoid)
	}
	owner, err := s.db.Queries().GetUserByEmail(ctx, email)
	if err == nil {
		u, ok, err = s.verifyAccount(ctx, owner, pw, consume)
		return u, ok, nil, err
	}
	if !errors.Is(err, database.ErrNotFound) {
		return u, false, nil, err
	}
	if weak = s.policy.Violations(pw, email); len(weak) > 0 {
		return u, false, weak, nil
	}
	pwHash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return u, false, nil, err
	}
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		if err := consume(q); err != nil {
			return err
		}
		// No row if the address was taken meanwhile: the link is void.
		if u, err = q.CreateVerifiedUser(ctx, db.CreateVerifiedUserParams{Email: email, PasswordHash: pwHash, Now: s.now()}); err != nil {
			return notFoundMeans(err, errLinkVoid)
		}
		if err := s.recordSecurityEvent(ctx, q, u.ID, evRegistered, nil); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evEmailVerified, nil)
	})
	if err != nil {
		return u, false, nil, err
	}
	s.metrics.Registrations.WithLabelValues("created").Inc()
	return u, true, nil, nil
}

// ResendVerification implements api.StrictServerInterface. Every address
// costs the same: one throttle, one user lookup, one write statement to the
// pending rows (which changes nothing when there is nothing to renew) and
// one mail queued or its decoy.
func (s *Server) ResendVerification(ctx context.Context, req api.ResendVerificationRequestObject) (api.ResendVerificationResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	q := s.db.Queries()
	u, err := q.GetUserByEmail(ctx, email)
	exists := err == nil
	if err != nil && !errors.Is(err, database.ErrNotFound) {
		return nil, err
	}
	pending, err := q.HasLivePendingRegistration(ctx, db.HasLivePendingRegistrationParams{Email: email, Now: s.now()})
	if err != nil {
		return nil, err
	}
	older := exists && u.IsActive && u.EmailVerifiedAt == nil // an account from before verification was required
	allowed, err := s.mayMail(ctx, mail.KindVerifyEmail, email, older || (!exists && pending))
	if err != nil {
		return nil, err
	}
	tok := token.NewOpaque()
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		n, err := q.RenewPendingLink(ctx, db.RenewPendingLinkParams{
			Email: email, TokenHash: token.HashOpaque(tok), ExpiresAt: s.now().Add(s.mail.VerifyTTL), Now: s.now(),
			Renew:     allowed && !exists,
			CreateRow: allowed && older,
		})
		if err != nil {
			return err
		}
		if n == 0 {
			// Nothing to send: the same work, thrown away.
			return s.decoyMailIn(ctx, q, mail.KindVerifyEmail, email)
		}
		return s.queueMail(ctx, q, mail.KindVerifyEmail, idIf(exists, u), email, mail.Data{Email: email, Link: s.link(tokenVerifyEmail, tok), ExpiresIn: humanTTL(s.mail.VerifyTTL)})
	})
	if err != nil {
		return nil, err
	}
	return api.ResendVerification202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse{Body: acceptedMail}}, nil
}
