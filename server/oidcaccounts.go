package server

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/federation"
	"github.com/authd/authd/server/mail"
)

// errIdentityRaced means a concurrent login created the account or the
// identity this one was about to: the transaction is run again, and then
// finds it.
var errIdentityRaced = errors.New("identity created concurrently")

// resolveAttempts bounds those runs: the second finds what the first raced.
const resolveAttempts = 3

// loginCallback logs the identity of c in: to its account, a new account or
// an account with its address (see resolveLogin), and answers a one-time
// code for POST /auth/oidc/token.
func (s *Server) loginCallback(ctx context.Context, name string, row db.OidcLogin, c federation.Claims) (url.Values, *flowFailure, error) {
	var code string
	var fail *flowFailure
	var err error
	for range resolveAttempts {
		err = s.db.InTx(ctx, func(q *db.Queries) error {
			code, fail = "", nil
			userID, f, err := s.resolveLogin(ctx, q, name, c)
			if err != nil || f != nil {
				fail = f
				return err // a refusal commits its event
			}
			infoFrom(ctx).userID = userID.String()
			// Read again under the account's lock, which a reset or an
			// unlink takes before removing it: the code goes with it.
			ident, err := q.GetIdentityForShare(ctx, db.GetIdentityForShareParams{Provider: name, Subject: c.Subject})
			if errors.Is(err, database.ErrNotFound) || (err == nil && ident.UserID != userID) {
				return errIdentityRaced
			}
			if err != nil {
				return err
			}
			code, err = s.issueCode(ctx, q, codeLogin, row, userID, &ident.ID, name, c)
			return err
		})
		if !errors.Is(err, errIdentityRaced) {
			break
		}
	}
	if err != nil || fail != nil {
		return nil, fail, err
	}
	return url.Values{"code": {code}}, nil, nil
}

// resolveLogin finds the account the identity logs in to, in q's
// transaction, holding the account's row:
//  1. an identity known already: its account, unless deactivated;
//  2. unknown, without an address: refused, email_required;
//  3. unknown, no account has the address: a new account (unless signup is
//     off), verified only if the provider said it verified the address;
//  4. unknown, an account has the address: linked only if the provider
//     verified the address, the account did too, and it is active. Anyone
//     can assert any address at a provider that does not verify them, and
//     an unverified account may be someone's squat: either way the owner
//     must log in and link from the account.
func (s *Server) resolveLogin(ctx context.Context, q *db.Queries, name string, c federation.Claims) (uuid.UUID, *flowFailure, error) {
	ident, err := q.GetIdentityBySubject(ctx, db.GetIdentityBySubjectParams{Provider: name, Subject: c.Subject})
	switch {
	case err == nil:
		return s.knownIdentity(ctx, q, ident, c)
	case !errors.Is(err, database.ErrNotFound):
		return uuid.Nil, nil, err
	case c.Email == "":
		return uuid.Nil, &flowFailure{code: flowEmailRequired, cause: "the provider gave no address authd can use"}, nil
	}
	u, err := q.GetUserByEmail(ctx, c.Email)
	if errors.Is(err, database.ErrNotFound) {
		return s.federatedSignup(ctx, q, name, c)
	}
	if err != nil {
		return uuid.Nil, nil, err
	}
	if _, err := q.LockUserCredentials(ctx, u.ID); err != nil {
		return uuid.Nil, nil, err
	}
	if u, err = q.GetUserByID(ctx, u.ID); err != nil {
		return uuid.Nil, nil, err
	}
	refuse := func(cause string) (uuid.UUID, *flowFailure, error) {
		return uuid.Nil, &flowFailure{code: flowAccountExists, cause: cause, account: &u.ID}, nil
	}
	switch {
	case !c.EmailVerified:
		return refuse("an account has the address, which the provider did not verify")
	case u.EmailVerifiedAt == nil:
		return refuse("an account has the address, which it has not verified")
	case !u.IsActive:
		return refuse("the account with the address is deactivated")
	}
	if n, err := q.CountIdentities(ctx, u.ID); err != nil || n >= maxIdentitiesPerUser {
		if err != nil {
			return uuid.Nil, nil, err
		}
		return refuse("the account links the most identities already")
	}
	if err := s.linkIdentity(ctx, q, u, name, c); err != nil {
		return uuid.Nil, nil, err
	}
	return u.ID, nil, nil
}

// knownIdentity is the account of ident, refreshed with what the provider
// asserts now.
func (s *Server) knownIdentity(ctx context.Context, q *db.Queries, ident db.Identity, c federation.Claims) (uuid.UUID, *flowFailure, error) {
	cur, err := q.LockUserCredentials(ctx, ident.UserID)
	if err != nil {
		return uuid.Nil, nil, err
	}
	if !cur.IsActive {
		return uuid.Nil, &flowFailure{code: flowAccountDisabled, cause: "the identity's account is deactivated", account: &ident.UserID}, nil
	}
	email, verified := c.Email, c.EmailVerified
	if email == "" { // asserted nothing this time: keep what it asserted last
		email, verified = ident.Email, ident.EmailVerified
	}
	return ident.UserID, nil, q.TouchIdentity(ctx, db.TouchIdentityParams{ID: ident.ID, Email: email, EmailVerified: verified, Now: s.now()})
}

// federatedSignup creates the account of a first login and its identity.
// It has no password (one is set through a reset) and its address is
// verified only if the provider verified it.
func (s *Server) federatedSignup(ctx context.Context, q *db.Queries, name string, c federation.Claims) (uuid.UUID, *flowFailure, error) {
	if !s.oidc.Signup {
		return uuid.Nil, &flowFailure{code: flowSignupDisabled, cause: "no account has the address and AUTHD_OIDC_SIGNUP is off"}, nil
	}
	var verifiedAt *time.Time
	if c.EmailVerified {
		verifiedAt = ptr(s.now())
	}
	u, err := q.CreateFederatedUser(ctx, db.CreateFederatedUserParams{Email: c.Email, Now: s.now(), EmailVerifiedAt: verifiedAt})
	if errors.Is(err, database.ErrNotFound) {
		return uuid.Nil, nil, errIdentityRaced // the address was taken meanwhile
	}
	if err != nil {
		return uuid.Nil, nil, err
	}
	if err := s.recordSecurityEvent(ctx, q, u.ID, evRegistered, nil); err != nil {
		return uuid.Nil, nil, err
	}
	if _, err := s.createIdentity(ctx, q, u.ID, name, c, true, nil); err != nil {
		return uuid.Nil, nil, err
	}
	return u.ID, nil, nil
}

// linkIdentity links the identity of c to the existing account u, with its
// event and a notice to the account's address.
func (s *Server) linkIdentity(ctx context.Context, q *db.Queries, u db.User, name string, c federation.Claims) error {
	if _, err := s.createIdentity(ctx, q, u.ID, name, c, true, nil); err != nil {
		return err
	}
	return s.identityNotice(ctx, q, mail.KindIdentityLinked, u.ID, u.Email, name)
}

// createIdentity stores the identity of c for userID with its
// identity_linked event (of session, when a session linked it); a login
// that links it logs in through it now. errIdentityRaced when another
// request linked it meanwhile.
func (s *Server) createIdentity(ctx context.Context, q *db.Queries, userID uuid.UUID, name string, c federation.Claims, login bool, session *uuid.UUID) (db.Identity, error) {
	var lastLogin *time.Time
	if login {
		lastLogin = ptr(s.now())
	}
	ident, err := q.CreateIdentity(ctx, db.CreateIdentityParams{
		UserID: userID, Provider: name, Subject: c.Subject, Email: c.Email, EmailVerified: c.EmailVerified,
		Now: s.now(), LastLoginAt: lastLogin,
	})
	if errors.Is(err, database.ErrNotFound) {
		return ident, errIdentityRaced
	}
	if err != nil {
		return ident, err
	}
	return ident, s.recordSecurityEvent(ctx, q, userID, evIdentityLinked, session)
}

// identityNotice mails the account's address that a provider identity was
// linked (or unlinked), naming the provider as the login page does.
func (s *Server) identityNotice(ctx context.Context, q *db.Queries, kind string, userID uuid.UUID, to, provider string) error {
	ok, err := s.mayMail(ctx, kind, to, true)
	if err != nil || !ok {
		return err
	}
	display := provider
	for _, p := range s.oidc.Providers.List() {
		if p.Name == provider {
			display = p.DisplayName
		}
	}
	return s.queueMail(ctx, q, kind, &userID, to, mail.Data{Email: to, Provider: display})
}
