package server

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/token"
)

// Register implements api.StrictServerInterface.
func (s *Server) Register(ctx context.Context, req api.RegisterRequestObject) (api.RegisterResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	if msgs := s.Policy.Violations(req.Body.Password, email); len(msgs) > 0 {
		return api.Register422ApplicationProblemPlusJSONResponse{UnprocessableEntityApplicationProblemPlusJSONResponse: api.UnprocessableEntityApplicationProblemPlusJSONResponse(
			policyProblem(ctx, msgs, "password"))}, nil
	}
	hash, err := s.Hasher.Hash(ctx, req.Body.Password)
	if err != nil {
		return nil, err
	}
	if s.Mail.RequireVerified {
		if err := s.registerQuietly(ctx, email, hash); err != nil {
			return nil, err
		}
		s.Metrics.Registrations.WithLabelValues("pending").Inc()
		return api.Register202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse{Body: acceptedMail}}, nil
	}
	var u db.User
	err = s.DB.InTx(ctx, func(q *db.Queries) (err error) {
		if u, err = q.CreateUser(ctx, db.CreateUserParams{Email: email, PasswordHash: hash}); err != nil {
			return err
		}
		return s.record(ctx, q, u.ID, evRegistered, nil)
	})
	if database.IsUniqueViolation(err, "users_email_key") {
		s.Metrics.Registrations.WithLabelValues("conflict").Inc()
		return api.Register409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: api.ConflictApplicationProblemPlusJSONResponse(
			problem(ctx, kindEmailTaken, "An account with this email already exists."))}, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	s.Metrics.Registrations.WithLabelValues("created").Inc()
	s.Log.InfoContext(ctx, "user registered")
	return api.Register201JSONResponse{Body: userJSON(u)}, nil
}

// registerQuietly is registration when addresses must be verified. The
// account is created only when its link is redeemed; until then a pending
// registration answers logins with 403. An address that has an account gets
// a "shadow" pending registration that answers logins the same way but can
// never become an account, and its owner gets a notice. So neither the
// answer (always 202) nor a login afterwards tells the caller whether the
// address had an account; both paths hashed a password.
func (s *Server) registerQuietly(ctx context.Context, email, hash string) error {
	return s.DB.InTx(ctx, func(q *db.Queries) error {
		owner, err := q.GetUserByEmail(ctx, email)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		mailed, err := s.mayMail(ctx, mail.KindVerifyEmail, email)
		if err != nil {
			return err
		}
		var tok string
		var tokHash []byte
		if !exists {
			tok = token.NewOpaque()
			tokHash = token.HashOpaque(tok)
		}
		_, err = q.AddPendingRegistration(ctx, db.AddPendingRegistrationParams{
			Email: email, PasswordHash: hash, TokenHash: tokHash, Shadow: exists,
			ExpiresAt: s.Now().Add(s.Mail.VerifyTTL), Now: s.Now(),
		})
		held := errors.Is(err, pgx.ErrNoRows) // a live registration keeps the address and its password
		if err != nil && !held {
			return err
		}
		switch {
		case exists && !owner.IsActive:
			return nil
		case exists && owner.EmailVerifiedAt == nil: // an account from before verification was required
			if !mailed {
				return nil
			}
			return s.sendVerificationLink(ctx, q, owner)
		case exists:
			if ok, err := s.mayMail(ctx, mail.KindAlreadyRegistered, owner.Email); !ok || err != nil {
				return err
			}
			return s.queueMail(ctx, q, mail.KindAlreadyRegistered, owner.Email, mail.Data{Email: owner.Email})
		case held:
			if !mailed {
				return nil
			}
			return s.renewPendingLink(ctx, q, email)
		case !mailed:
			return nil // the link is stored; a resend after the throttle mails a new one
		}
		return s.queueMail(ctx, q, mail.KindVerifyEmail, email,
			mail.Data{Email: email, Link: s.link(tokenVerifyEmail, tok), ExpiresIn: humanTTL(s.Mail.VerifyTTL)})
	})
}

// pendingLogin answers a login for an address with a pending registration
// whose password matches: 403, as for any address not verified yet.
func (s *Server) pendingLogin(ctx context.Context, email, pw string) (bool, error) {
	p, err := s.DB.Queries().GetPendingRegistration(ctx, db.GetPendingRegistrationParams{Email: email, Now: s.Now()})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ok, _, err := s.Hasher.Verify(ctx, pw, p.PasswordHash)
	if errors.Is(err, password.ErrUnknownHash) {
		return false, nil
	}
	return ok, err
}
