package server

import (
	"bytes"
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/token"
)

// acceptedMail is the one answer of every endpoint that may send mail, so
// that it never tells whether an address has an account.
var acceptedMail = api.Accepted{Status: api.AcceptedStatusAccepted, Detail: "If the address belongs to an account, a mail is on its way."}

// invalidToken is the 400 for a mailed token that is unknown, used or expired.
func invalidToken(ctx context.Context) api.Problem {
	return problem(ctx, kindInvalidToken, "The link is invalid or has expired; ask for a new one.")
}

// VerifyEmail implements api.StrictServerInterface. The link proves the
// mailbox; the password says which registration becomes the account, so an
// account never gets a password its redeemer did not type. A wrong password
// leaves the link working: the mailbox owner may still use it.
func (s *Server) VerifyEmail(ctx context.Context, req api.VerifyEmailRequestObject) (api.VerifyEmailResponseObject, error) {
	hash, q := token.HashOpaque(req.Body.Token), s.DB.Queries()
	userID, err := q.PeekAccountToken(ctx, db.PeekAccountTokenParams{TokenHash: hash, Kind: tokenVerifyEmail, Now: s.Now()})
	var u db.User
	var ok bool
	switch {
	case err == nil: // an account from before verification was required
		u, ok, err = s.verifyAccount(ctx, userID, hash, req.Body.Password)
	case errors.Is(err, pgx.ErrNoRows):
		var email string
		if email, err = q.PeekPendingToken(ctx, db.PeekPendingTokenParams{TokenHash: hash, Now: s.Now()}); err == nil {
			u, ok, err = s.redeemPending(ctx, email, hash, req.Body.Password)
		}
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return api.VerifyEmail400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: api.BadRequestApplicationProblemPlusJSONResponse(invalidToken(ctx))}, nil
	case err != nil:
		return nil, err
	case !ok:
		return api.VerifyEmail403ApplicationProblemPlusJSONResponse(problem(ctx, kindWrongPassword, "The password is not the one this address was registered with.")), nil
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.VerifyEmail200JSONResponse(userJSON(u)), nil
}

// verifyAccount redeems the link of an account from before verification was
// required; pw must be the account's password. ok is false for a wrong one.
func (s *Server) verifyAccount(ctx context.Context, userID uuid.UUID, hash []byte, pw string) (u db.User, ok bool, err error) {
	if u, err = s.DB.Queries().GetUserByID(ctx, userID); err != nil {
		return u, false, err
	}
	ok, _, err = s.Hasher.Verify(ctx, pw, u.PasswordHash)
	if errors.Is(err, password.ErrUnknownHash) {
		s.Log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID.String())
		return u, false, nil
	}
	if err != nil || !ok {
		return u, false, err
	}
	// A password change since deletes the token, so using it up here
	// also proves the checked password is still the account's.
	err = s.DB.InTx(ctx, func(q *db.Queries) error {
		row, err := q.ConsumeAccountToken(ctx, db.ConsumeAccountTokenParams{TokenHash: hash, Kind: tokenVerifyEmail, Now: s.Now()})
		if err != nil {
			return err
		}
		if row.UserID != userID {
			return pgx.ErrNoRows
		}
		if u, err = q.MarkEmailVerified(ctx, userID); err != nil {
			return err
		}
		return s.record(ctx, q, u.ID, evEmailVerified, nil)
	})
	return u, err == nil, err
}

// redeemPending turns the pending registration of email whose password is
// pw into the account and ends every other registration of the address. The
// link (hash) must still be live; ok is false when no registration has pw.
func (s *Server) redeemPending(ctx context.Context, email string, hash []byte, pw string) (u db.User, ok bool, err error) {
	chosen, ok, err := s.pendingPassword(ctx, email, pw, true)
	if err == nil && !ok {
		// A concurrent redemption may have ended the rows meanwhile: then
		// the link is used up (400), not the password wrong.
		_, err = s.DB.Queries().PeekPendingToken(ctx, db.PeekPendingTokenParams{TokenHash: hash, Now: s.Now()})
	}
	if err != nil || !ok {
		return u, false, err
	}
	err = s.DB.InTx(ctx, func(q *db.Queries) error {
		if err := q.LockPendingAddress(ctx, email); err != nil {
			return err
		}
		ended, err := q.EndPendingRegistrations(ctx, email)
		if err != nil {
			return err
		}
		// The hashes were checked outside the transaction: a concurrent
		// redemption, resend or newer registration may have changed the rows.
		linkLive, chosenLive := false, false
		for _, p := range ended {
			if p.Shadow || !p.ExpiresAt.After(s.Now()) {
				continue
			}
			linkLive = linkLive || bytes.Equal(p.TokenHash, hash)
			chosenLive = chosenLive || (p.ID == chosen.ID && p.PasswordHash == chosen.PasswordHash)
		}
		if !linkLive || !chosenLive {
			return pgx.ErrNoRows
		}
		// No row if the address was taken meanwhile.
		if u, err = q.CreateVerifiedUser(ctx, db.CreateVerifiedUserParams{Email: chosen.Email, PasswordHash: chosen.PasswordHash}); err != nil {
			return err
		}
		if err := s.record(ctx, q, u.ID, evRegistered, nil); err != nil {
			return err
		}
		return s.record(ctx, q, u.ID, evEmailVerified, nil)
	})
	if err != nil {
		return u, false, err
	}
	s.Metrics.Registrations.WithLabelValues("created").Inc()
	return u, true, nil
}

// ResendVerification implements api.StrictServerInterface.
func (s *Server) ResendVerification(ctx context.Context, req api.ResendVerificationRequestObject) (api.ResendVerificationResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	// Every address spends its throttle, account or not, so that the
	// limiter's round trip does not tell them apart.
	allowed, err := s.mayMail(ctx, mail.KindVerifyEmail, email)
	if err != nil {
		return nil, err
	}
	q := s.DB.Queries()
	var send func(q *db.Queries) error
	u, err := q.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		pending, err := q.HasPendingRegistration(ctx, db.HasPendingRegistrationParams{Email: email, Now: s.Now()})
		if err != nil {
			return nil, err
		}
		if pending {
			send = func(q *db.Queries) error { return s.renewPendingLink(ctx, q, email) }
		}
	case err != nil:
		return nil, err
	case u.IsActive && u.EmailVerifiedAt == nil:
		send = func(q *db.Queries) error { return s.sendVerificationLink(ctx, q, u) }
	}
	if send != nil && allowed {
		err = s.DB.InTx(ctx, send)
	} else {
		// Nothing to send: the same work, thrown away.
		err = s.decoyMail(ctx, mail.KindVerifyEmail, email)
	}
	if err != nil {
		return nil, err
	}
	return api.ResendVerification202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse{Body: acceptedMail}}, nil
}

// renewPendingLink mails a new link for an address with a live pending
// registration (not a shadow); every earlier link of the address stops
// working. Any registration of the address can be redeemed with it, by its
// password. The throttle was asked already.
func (s *Server) renewPendingLink(ctx context.Context, q *db.Queries, email string) error {
	tok := token.NewOpaque()
	n, err := q.RenewPendingToken(ctx, db.RenewPendingTokenParams{Email: email, TokenHash: token.HashOpaque(tok), Now: s.Now()})
	if err != nil || n == 0 {
		return err
	}
	return s.queueMail(ctx, q, mail.KindVerifyEmail, email, mail.Data{Email: email, Link: s.link(tokenVerifyEmail, tok), ExpiresIn: humanTTL(s.Mail.VerifyTTL)})
}

// sendVerificationLink issues the token and queues the mail, unthrottled.
func (s *Server) sendVerificationLink(ctx context.Context, q *db.Queries, u db.User) error {
	link, err := s.issueToken(ctx, q, u.ID, tokenVerifyEmail, nil)
	if err != nil {
		return err
	}
	return s.queueMail(ctx, q, mail.KindVerifyEmail, u.Email, mail.Data{Email: u.Email, Link: link, ExpiresIn: humanTTL(s.Mail.VerifyTTL)})
}
