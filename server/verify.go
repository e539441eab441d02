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
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		row, err := q.ConsumeAccountToken(ctx, db.ConsumeAccountTokenParams{TokenHash: token.HashOpaque(req.Body.Token), Kind: tokenVerifyEmail, Now: s.Now()})
		if err != nil {
			return err
		}
		u, err = q.MarkEmailVerified(ctx, row.UserID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return api.VerifyEmail400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: api.BadRequestApplicationProblemPlusJSONResponse(invalidToken(ctx))}, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.VerifyEmail200JSONResponse(userJSON(u)), nil
}

// ResendVerification implements api.StrictServerInterface.
func (s *Server) ResendVerification(ctx context.Context, req api.ResendVerificationRequestObject) (api.ResendVerificationResponseObject, error) {
	u, err := s.db.Queries().GetUserByEmail(ctx, normalizeEmail(req.Body.Email))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, err
	case u.IsActive && u.EmailVerifiedAt == nil:
		if err := s.db.InTx(ctx, func(q *db.Queries) error { return s.sendVerification(ctx, q, u) }); err != nil {
			return nil, err
		}
	}
	return api.ResendVerification202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse(acceptedMail)}, nil
}

// sendVerification issues a verification token and queues its mail.
func (s *Server) sendVerification(ctx context.Context, q *db.Queries, u db.User) error {
	link, err := s.issueToken(ctx, q, u.ID, tokenVerifyEmail, nil)
	if err != nil {
		return err
	}
	return s.queueMail(ctx, q, mail.KindVerifyEmail, u.Email, mail.Data{Email: u.Email, Link: link, ExpiresIn: humanTTL(s.Mail.VerifyTTL)})
}
