package server

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// acceptedMail is the one answer of every endpoint that may send mail, so
// that it never tells whether an address has an account.
var acceptedMail = api.Accepted{Status: api.AcceptedStatusAccepted, Detail: "If the address belongs to an account, a mail is on its way."}

// invalidToken is the 400 for a mailed token that is unknown, used or expired.
func invalidToken(ctx context.Context) api.Problem {
	return problem(ctx, kindInvalidToken, "The link is invalid or has expired; ask for a new one.")
}

// VerifyEmail implements api.StrictServerInterface.
func (s *Server) VerifyEmail(ctx context.Context, req api.VerifyEmailRequestObject) (api.VerifyEmailResponseObject, error) {
	var u db.User
	hash := token.HashOpaque(req.Body.Token)
	created := false // a pending registration became an account
	err := s.DB.InTx(ctx, func(q *db.Queries) error {
		created = false
		row, err := q.ConsumeAccountToken(ctx, db.ConsumeAccountTokenParams{TokenHash: hash, Kind: tokenVerifyEmail, Now: s.Now()})
		if err == nil { // an account from before verification was required
			if u, err = q.MarkEmailVerified(ctx, row.UserID); err != nil {
				return err
			}
			return s.record(ctx, q, u.ID, evEmailVerified, nil)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		// A pending registration becomes the account; no row if the address
		// was taken meanwhile.
		p, err := q.ConsumePendingRegistration(ctx, db.ConsumePendingRegistrationParams{TokenHash: hash, Now: s.Now()})
		if err != nil {
			return err
		}
		if u, err = q.CreateVerifiedUser(ctx, db.CreateVerifiedUserParams{Email: p.Email, PasswordHash: p.PasswordHash}); err != nil {
			return err
		}
		if err := s.record(ctx, q, u.ID, evRegistered, nil); err != nil {
			return err
		}
		created = true
		return s.record(ctx, q, u.ID, evEmailVerified, nil)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return api.VerifyEmail400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: api.BadRequestApplicationProblemPlusJSONResponse(invalidToken(ctx))}, nil
	}
	if err != nil {
		return nil, err
	}
	if created {
		s.Metrics.Registrations.WithLabelValues("created").Inc()
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.VerifyEmail200JSONResponse(userJSON(u)), nil
}

// ResendVerification implements api.StrictServerInterface.
func (s *Server) ResendVerification(ctx context.Context, req api.ResendVerificationRequestObject) (api.ResendVerificationResponseObject, error) {
	email := normalizeEmail(req.Body.Email)
	q := s.DB.Queries()
	var send func(q *db.Queries) error
	u, err := q.GetUserByEmail(ctx, email)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		p, err := q.GetPendingRegistration(ctx, db.GetPendingRegistrationParams{Email: email, Now: s.Now()})
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return nil, err
		}
		if err == nil && !p.Shadow {
			send = func(q *db.Queries) error { return s.renewPendingLink(ctx, q, email) }
		}
	case err != nil:
		return nil, err
	case u.IsActive && u.EmailVerifiedAt == nil:
		send = func(q *db.Queries) error { return s.sendVerificationLink(ctx, q, u) }
	}
	if send != nil {
		ok, err := s.mayMail(ctx, mail.KindVerifyEmail, email)
		if err != nil {
			return nil, err
		}
		if !ok {
			send = nil
		}
	}
	if send != nil {
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

// renewPendingLink mails a new link for a live pending registration (not a
// shadow); the earlier link stops working. The throttle was asked already.
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
