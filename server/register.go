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

// Register implements api.StrictServerInterface.
func (s *Server) Register(ctx context.Context, req api.RegisterRequestObject) (api.RegisterResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	if msgs := s.policy.Violations(req.Body.Password, email); len(msgs) > 0 {
		return api.Register422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: weakPassword(ctx, msgs, "password")}, nil
	}
	if s.mail.RequireVerified {
		if err := s.registerQuietly(ctx, email); err != nil {
			return nil, err
		}
		s.metrics.Registrations.WithLabelValues("pending").Inc()
		return api.Register202JSONResponse{Body: acceptedMail}, nil
	}
	hash, err := s.hasher.Hash(ctx, req.Body.Password)
	if err != nil {
		return nil, err
	}
	var u db.User
	err = s.db.InTx(ctx, func(q *db.Queries) (err error) {
		if u, err = q.CreateUser(ctx, db.CreateUserParams{Email: email, PasswordHash: hash, Now: s.now()}); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evRegistered, nil)
	})
	if database.IsUniqueViolation(err, "users_email_key") {
		s.metrics.Registrations.WithLabelValues("conflict").Inc()
		return api.Register409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: emailTaken(ctx, "An account with this email already exists.")}, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	s.metrics.Registrations.WithLabelValues("created").Inc()
	s.log.InfoContext(ctx, "user registered")
	return api.Register201JSONResponse{Body: userJSON(u)}, nil
}

// registerQuietly is registration when addresses must be verified. It keeps
// no password: the mailed link proves the address, and the password is
// chosen when the link is redeemed, so whoever registers first cannot choose
// the owner's, and a registration never changes how an account logs in. An
// address that has an account gets a notice instead of a link. Every address
// costs the same: one user lookup, one throttle, no hashing, one write to its
// pending row and one mail queued or its decoy, so neither the answer (always
// 202) nor its timing tells whether the address had an account. The row of
// an address with an account can never become an account: redemption asks
// users first (a verified account gets no link, an older unverified one
// verifies with its own password).
func (s *Server) registerQuietly(ctx context.Context, email string) error {
	owner, err := s.db.Queries().GetUserByEmail(ctx, email)
	exists := err == nil
	if err != nil && !errors.Is(err, database.ErrNotFound) {
		return err
	}
	verified := exists && owner.IsActive && owner.EmailVerifiedAt != nil
	mailKind := mail.KindVerifyEmail
	if verified {
		mailKind = mail.KindAlreadyRegistered
	}
	// Every address mails something (a link, or the "already registered"
	// notice) but a deactivated account's.
	mailed, err := s.mayMail(ctx, mailKind, email, !exists || owner.IsActive)
	if err != nil {
		return err
	}
	// A throttled registration mails nothing and leaves the link already
	// mailed working. An account from before verification was required gets
	// a link too; redeeming it asks for the account's password.
	link := mailed && (!exists || (owner.IsActive && owner.EmailVerifiedAt == nil))
	tok := token.NewOpaque()
	tokHash := token.HashOpaque(tok)
	if !link {
		tokHash = nil
	}
	return s.db.InTx(ctx, func(q *db.Queries) error {
		err := q.PutPendingRegistration(ctx, db.PutPendingRegistrationParams{
			Email: email, TokenHash: tokHash, ExpiresAt: s.now().Add(s.mail.VerifyTTL), Now: s.now(),
		})
		switch {
		case err != nil:
			return err
		case link:
			return s.queueMail(ctx, q, mail.KindVerifyEmail, idIf(exists, owner), email,
				mail.Data{Email: email, Link: s.link(tokenVerifyEmail, tok), ExpiresIn: humanTTL(s.mail.VerifyTTL)})
		case mailed && verified:
			return s.queueMail(ctx, q, mail.KindAlreadyRegistered, &owner.ID, owner.Email, mail.Data{Email: owner.Email})
		}
		return s.decoyMailIn(ctx, q, mailKind, email)
	})
}
