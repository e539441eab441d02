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

// PendingPerAddress is how many pending registrations an address keeps: a
// new one beyond it ends the oldest. It bounds what unauthenticated callers
// can store per address and the hash checks of a login or a redemption.
const PendingPerAddress = 3

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
// account is created only when a link is redeemed; until then a pending
// registration answers logins with 403. Every registration is a row of its
// own with its registrant's password, so an earlier registrant cannot choose
// the password of the one who redeems the link. An address that has an
// account gets a "shadow" row that answers logins the same way but can never
// become an account, and its owner gets a notice. So neither the answer
// (always 202) nor a login afterwards tells the caller whether the address
// had an account; both paths hashed a password and write the same rows.
func (s *Server) registerQuietly(ctx context.Context, email, hash string) error {
	return s.DB.InTx(ctx, func(q *db.Queries) error {
		if err := q.LockPendingAddress(ctx, email); err != nil {
			return err
		}
		owner, err := q.GetUserByEmail(ctx, email)
		exists := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		mailed, err := s.mayMail(ctx, mail.KindVerifyEmail, email)
		if err != nil {
			return err
		}
		// A mailed link is the address's only live one; a throttled
		// registration issues none, so the link already mailed keeps working
		// (and, naming this registration's password, redeems it).
		var tok string
		var tokHash []byte
		if mailed {
			if err := q.ClearPendingTokens(ctx, email); err != nil {
				return err
			}
			if !exists {
				tok = token.NewOpaque()
				tokHash = token.HashOpaque(tok)
			}
		}
		err = q.AddPendingRegistration(ctx, db.AddPendingRegistrationParams{
			Email: email, PasswordHash: hash, TokenHash: tokHash, Shadow: exists, ExpiresAt: s.Now().Add(s.Mail.VerifyTTL),
		})
		if err != nil {
			return err
		}
		if err := q.TrimPendingRegistrations(ctx, db.TrimPendingRegistrationsParams{Email: email, Now: s.Now(), Keep: PendingPerAddress}); err != nil {
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
		case !mailed:
			return nil
		}
		return s.queueMail(ctx, q, mail.KindVerifyEmail, email,
			mail.Data{Email: email, Link: s.link(tokenVerifyEmail, tok), ExpiresIn: humanTTL(s.Mail.VerifyTTL)})
	})
}

// pendingPassword finds the newest live pending registration of an address
// whose password is pw; ok is false when none matches. It checks at most
// PendingPerAddress hashes. Shadows count unless realOnly.
func (s *Server) pendingPassword(ctx context.Context, email, pw string, realOnly bool) (row db.ListPendingRegistrationsRow, ok bool, err error) {
	rows, err := s.DB.Queries().ListPendingRegistrations(ctx, db.ListPendingRegistrationsParams{Email: email, Now: s.Now(), Keep: PendingPerAddress})
	if err != nil {
		return row, false, err
	}
	for _, r := range rows {
		if realOnly && r.Shadow {
			continue
		}
		ok, _, err := s.Hasher.Verify(ctx, pw, r.PasswordHash)
		if errors.Is(err, password.ErrUnknownHash) {
			continue
		}
		if err != nil || ok {
			return r, ok, err
		}
	}
	return row, false, nil
}

// pendingLogin answers a login for an address with a pending registration
// whose password matches: 403, as for any address not verified yet.
func (s *Server) pendingLogin(ctx context.Context, email, pw string) (bool, error) {
	_, ok, err := s.pendingPassword(ctx, email, pw, false)
	return ok, err
}
