package server

import (
	"context"
	"errors"
	"strings"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/token"
)

// requestEmailChange makes newEmail pending for the user: a confirmation to
// the new address and a notice to the current one. Neither names the other
// address: each was typed by someone the recipient may not be. If the new
// address has an account already, its owner gets a notice instead, and the
// caller learns nothing either way.
func (s *Server) requestEmailChange(ctx context.Context, q *db.Queries, u db.User, newEmail string) error {
	if strings.EqualFold(newEmail, u.Email) {
		return nil
	}
	// The current address hears of the request, throttled like every mail
	// (at most one notice a minute covers every request in that minute), so
	// PUTs cannot turn it into a mail cannon. The throttle depends only on
	// this address, so whether the new address is taken changes nothing the
	// requester's own inbox receives.
	if err := s.noticeMail(ctx, q, mail.KindEmailChangeNotice, u.ID, u.Email); err != nil {
		return err
	}
	owner, err := q.GetUserByEmail(ctx, newEmail)
	taken := err == nil
	if err != nil && !errors.Is(err, database.ErrNotFound) {
		return err
	}
	// Free or taken, the new address takes one throttle and the requester's
	// link is replaced the same way: a link that survived only for taken
	// addresses would tell the requester which ones have accounts. The link
	// for a taken address is never mailed, so it can never be confirmed.
	if ok, err := s.mayMail(ctx, mail.KindEmailChangeConfirm, newEmail, true); !ok || err != nil {
		return err
	}
	link, err := s.issueToken(ctx, q, u.ID, tokenEmailChange, &newEmail)
	if err != nil {
		return err
	}
	if taken {
		return s.queueMail(ctx, q, mail.KindEmailTaken, &owner.ID, owner.Email, mail.Data{Email: owner.Email, NewEmail: owner.Email})
	}
	return s.queueMail(ctx, q, mail.KindEmailChangeConfirm, &u.ID, newEmail, mail.Data{Email: newEmail, NewEmail: newEmail, Link: link, ExpiresIn: humanTTL(s.mail.ChangeTTL)})
}

// ConfirmEmailChange implements api.StrictServerInterface.
func (s *Server) ConfirmEmailChange(ctx context.Context, req api.ConfirmEmailChangeRequestObject) (api.ConfirmEmailChangeResponseObject, error) {
	// The mail does not say which account asked, so its link confirms only
	// for that account: otherwise whoever owns the new address could be
	// led to hand it to a stranger's account. Another account's link is an
	// invalid link like any unknown one, and is not used up by the try.
	me := caller(ctx)
	var u db.User
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		row, err := q.ConsumeOwnAccountToken(ctx, db.ConsumeOwnAccountTokenParams{TokenHash: token.HashOpaque(req.Body.Token), Kind: tokenEmailChange, UserID: me.user.ID, Now: s.now()})
		if err != nil {
			return notFoundMeans(err, errLinkVoid) // unknown, used, expired or another account's
		}
		if row.NewEmail == nil {
			return errLinkVoid
		}
		if u, err = q.SetVerifiedEmail(ctx, db.SetVerifiedEmailParams{ID: row.UserID, Email: *row.NewEmail, Now: s.now()}); err != nil {
			return notFoundMeans(err, errLinkVoid) // the account was deactivated
		}
		// As a password change does: links mailed to the old address (a
		// reset, above all) must not outlive the move away from it, and
		// every session but the one that asked for the change ends.
		if err := s.endAccess(ctx, q, u.ID, row.SessionID, "email_change"); err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, u.ID, evEmailChanged, nil)
	})
	switch {
	case errors.Is(err, errLinkVoid):
		return api.ConfirmEmailChange400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: invalidToken(ctx)}, nil
	case database.IsUniqueViolation(err, "users_email_key"):
		return api.ConfirmEmailChange409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: emailTaken(ctx, "The address was registered by another account meanwhile.")}, nil
	case err != nil:
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.ConfirmEmailChange200JSONResponse(userJSON(u)), nil
}
