package server

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/token"
)

// Purposes of mailed tokens, as stored in account_tokens.kind.
const (
	tokenVerifyEmail   = "verify_email"
	tokenPasswordReset = "password_reset"
	tokenEmailChange   = "email_change"
)

// mayMail spends the recipient's throttle for a kind of mail (mail.Kind...):
// at most one per mailbox (emailKey: +tag variants are one mailbox) and kind per
// AUTHD_MAIL_THROTTLE, and no more in an hour than the per-address budget
// (AUTHD_RATE_LIMIT_MAIL_ADDRESS), so authd cannot be used to mail-bomb
// anyone, however many clients ask. A throttled mail is silently not sent:
// the caller's answer is the same, so strangers cannot use up a budget the
// owner would see. Every mail authd sends asks it first. Callers ask before
// issuing a token, so a throttled request leaves the link already mailed
// working. It holds even with the rate limits switched off, which a gateway
// in front cannot replace.
//
// real says whether a mail would go out if allowed. A request that mails
// nothing (an address without an account, say) must not spend the
// mailbox's budget, or strangers asking for +tag variants that have no
// account could use it up and the owner would get nothing; it makes the
// same call on budgets of its own, so the limiter's round trip is the same.
func (s *Server) mayMail(ctx context.Context, mailKind, to string, real bool) (bool, error) {
	mailbox := emailKey(to)
	if !real {
		mailbox = "decoy"
	}
	res, err := s.limits.Store.AllowAll(ctx, []ratelimit.Check{
		{Key: "mail:" + mailKind + ":" + mailbox, Limit: s.limits.MailThrottle},
		{Key: "mail-hour:" + mailKind + ":" + mailbox, Limit: s.limits.MailAddress},
	})
	if err != nil {
		return false, err
	}
	allowed := ratelimit.Allowed(res)
	if !allowed {
		s.log.InfoContext(ctx, "mail throttled for its recipient", "kind", mailKind)
	}
	return allowed, nil
}

// queueMail renders a mail and adds it to the outbox in q's transaction, so
// it is sent exactly when the change it belongs to commits.
func (s *Server) queueMail(ctx context.Context, q *db.Queries, mailKind string, userID *uuid.UUID, to string, d mail.Data) error {
	r, err := s.mail.Renderer.Render(mailKind, d)
	if err != nil {
		return err
	}
	text, html := s.sealer.Seal(r.Text), s.sealer.Seal(r.HTML)
	if err := q.EnqueueMail(ctx, db.EnqueueMailParams{Kind: mailKind, UserID: userID, Recipient: to, Mailbox: emailKey(to), Subject: r.Subject, TextBody: &text, HtmlBody: &html, Now: s.now()}); err != nil {
		return err
	}
	countOnSuccess(ctx, func() { s.metrics.Mail.WithLabelValues("queued").Inc() })
	return nil
}

// idIf is u's id when the account exists: the outbox row then goes with the
// account at its erasure (a mail to a pending registration has none).
func idIf(exists bool, u db.User) *uuid.UUID {
	if !exists {
		return nil
	}
	return &u.ID
}

// decoyMail does the work of queueing a mail and keeps nothing: the row is
// written and deleted in one transaction, so no one sees it, but the commit
// is flushed like a real one. Endpoints that answer 202 whether or not they
// mail call it when they do not, so that their timing does not tell whether
// an address has an account.
func (s *Server) decoyMail(ctx context.Context, mailKind, to string) error {
	return s.db.InTx(ctx, func(q *db.Queries) error { return s.decoyMailIn(ctx, q, mailKind, to) })
}

// decoyMailIn is decoyMail in q's transaction, for a path whose real twin
// queues its mail in a transaction with other writes.
func (s *Server) decoyMailIn(ctx context.Context, q *db.Queries, mailKind, to string) error {
	r, err := s.mail.Renderer.Render(mailKind, mail.Data{Email: to, NewEmail: to, Link: s.link(tokenVerifyEmail, token.NewOpaque()), ExpiresIn: "1 hour"})
	if err != nil {
		return err
	}
	text, html := s.sealer.Seal(r.Text), s.sealer.Seal(r.HTML)
	id, err := q.EnqueueDecoy(ctx, db.EnqueueDecoyParams{Kind: mailKind, Recipient: to, Subject: r.Subject, TextBody: &text, HtmlBody: &html, Now: s.now()})
	if err != nil {
		return err
	}
	return q.DropDecoy(ctx, id)
}

// issueToken stores a new mailed token for purpose for a user, invalidating the
// earlier ones, and returns its link. An authenticated request's session is
// stored with it: confirming an email change keeps that session alone.
func (s *Server) issueToken(ctx context.Context, q *db.Queries, userID uuid.UUID, purpose string, newEmail *string) (string, error) {
	var session *uuid.UUID
	if me := caller(ctx); me != nil {
		session = &me.sessionID
	}
	return s.storeToken(ctx, q, db.ReplaceAccountTokenParams{UserID: userID, Kind: purpose, NewEmail: newEmail, SessionID: session, ExpiresAt: s.now().Add(s.tokenTTL(purpose))})
}

// storeToken stores a new token as row describes it (its hash and time
// filled in here) and returns its link.
func (s *Server) storeToken(ctx context.Context, q *db.Queries, row db.ReplaceAccountTokenParams) (string, error) {
	tok := token.NewOpaque()
	row.TokenHash, row.Now = token.HashOpaque(tok), s.now()
	return s.link(row.Kind, tok), q.ReplaceAccountToken(ctx, row)
}

func (s *Server) tokenTTL(purpose string) time.Duration {
	switch purpose {
	case tokenPasswordReset:
		return s.mail.ResetTTL
	case tokenEmailChange:
		return s.mail.ChangeTTL
	default:
		return s.mail.VerifyTTL
	}
}

// link fills the link template for a token of purpose.
func (s *Server) link(purpose, tok string) string {
	action := map[string]string{tokenVerifyEmail: "verify-email", tokenPasswordReset: "reset-password", tokenEmailChange: "confirm-email"}[purpose]
	return strings.NewReplacer(
		"{public_url}", strings.TrimRight(s.mail.PublicURL, "/"),
		"{action}", action,
		"{token}", url.QueryEscape(tok),
	).Replace(s.mail.LinkTemplate)
}

// humanTTL words a lifetime for a mail: "1 hour", "24 hours", "30 minutes".
func humanTTL(d time.Duration) string {
	n, unit := int(d/time.Minute), "minute"
	if d%time.Hour == 0 {
		n, unit = int(d/time.Hour), "hour"
	}
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// noticeMail queues a notice of a change to the account's own address, in
// q's transaction, within the per-kind throttle of the mailbox.
func (s *Server) noticeMail(ctx context.Context, q *db.Queries, kind string, userID uuid.UUID, to string) error {
	ok, err := s.mayMail(ctx, kind, to, true)
	if err != nil || !ok {
		return err
	}
	return s.queueMail(ctx, q, kind, &userID, to, mail.Data{Email: to})
}
