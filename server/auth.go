package server

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
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
		return api.Register202JSONResponse{AcceptedJSONResponse: api.AcceptedJSONResponse{Body: acceptedMail}}, nil
	}
	u, err := s.db.Queries().CreateUser(ctx, db.CreateUserParams{Email: email, PasswordHash: hash})
	if database.IsUniqueViolation(err, "users_email_key") {
		return api.Register409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: api.ConflictApplicationProblemPlusJSONResponse(
			problem(ctx, kindEmailTaken, "An account with this email already exists."))}, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	s.log.InfoContext(ctx, "user registered")
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
	return s.db.InTx(ctx, func(q *db.Queries) error {
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
	p, err := s.db.Queries().GetPendingRegistration(ctx, db.GetPendingRegistrationParams{Email: email, Now: s.Now()})
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

// Login implements api.StrictServerInterface. Unknown email, wrong password
// and a deactivated account cost one hash verification each and answer
// alike; so do their limits, which are keyed by the address as typed.
func (s *Server) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	refused := api.Login401ApplicationProblemPlusJSONResponse{InvalidCredentialsApplicationProblemPlusJSONResponse: api.InvalidCredentialsApplicationProblemPlusJSONResponse(
		problem(ctx, kindInvalidCredentials, "The email or password is incorrect."))}
	email, ip := normalizeEmail(req.Body.Email), infoFrom(ctx).ip
	u, err := s.db.Queries().GetUserByEmail(ctx, email)
	var known *db.User
	switch {
	case err == nil:
		known = &u
	case !errors.Is(err, pgx.ErrNoRows):
		return nil, err
	}
	if refused, err := s.admitLogin(ctx, email, ip); err != nil || refused != nil {
		if err != nil {
			return nil, err
		}
		return nil, refused.problem()
	}
	notVerified := api.Login403ApplicationProblemPlusJSONResponse{EmailNotVerifiedApplicationProblemPlusJSONResponse: api.EmailNotVerifiedApplicationProblemPlusJSONResponse(
		problem(ctx, kindNotVerified, "Confirm your email address with the link we sent, or ask for a new one."))}
	if s.Mail.RequireVerified {
		// Not forgiven like a success: the caller only proved it knows the
		// password it registered with.
		if pending, err := s.pendingLogin(ctx, email, req.Body.Password); err != nil || pending {
			if err != nil {
				return nil, err
			}
			return notVerified, nil
		}
	}

	ok, rehash := false, false
	if known == nil {
		err = s.Hasher.VerifyDummy(ctx, req.Body.Password)
	} else if ok, rehash, err = s.Hasher.Verify(ctx, req.Body.Password, u.PasswordHash); errors.Is(err, password.ErrUnknownHash) {
		s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID.String())
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if !ok || !u.IsActive {
		return refused, nil // admitLogin counted it already
	}
	// The password is right: this client's failures are forgiven, whatever
	// happens next.
	s.forgiveLogin(ctx, email, ip)

	if s.Mail.RequireVerified && u.EmailVerifiedAt == nil {
		return notVerified, nil
	}
	var upgraded string
	if rehash {
		if upgraded, err = s.Hasher.Hash(ctx, req.Body.Password); err != nil {
			s.log.WarnContext(ctx, "password rehash skipped", "user_id", u.ID.String(), "error", err.Error())
			upgraded = ""
		}
	}
	pair, err := s.startSession(ctx, u, upgraded)
	if errors.Is(err, errCredentialsChanged) {
		return refused, nil
	}
	if err != nil {
		return nil, err
	}
	infoFrom(ctx).userID = u.ID.String()
	return api.Login200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// errCredentialsChanged means the password or the account's state changed
// between verifying the password and starting the session.
var errCredentialsChanged = errors.New("credentials changed during login")

// startSession creates a session with its first refresh token and returns the
// pair. It holds the user row and checks that the hash it verified is still
// the stored one, so a login racing a password change cannot outlive it;
// upgraded, when set, replaces a hash made with other parameters.
func (s *Server) startSession(ctx context.Context, u db.User, upgraded string) (api.TokenPairJSONResponse, error) {
	info := infoFrom(ctx)
	refresh := token.NewOpaque()
	var sess db.Session
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		cur, err := q.LockUserCredentials(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.PasswordHash != u.PasswordHash || !cur.IsActive {
			return errCredentialsChanged
		}
		if upgraded != "" {
			if err := q.SetPasswordHash(ctx, db.SetPasswordHashParams{ID: u.ID, PasswordHash: upgraded}); err != nil {
				return err
			}
		}
		sess, err = q.CreateSession(ctx, db.CreateSessionParams{
			UserID: u.ID, ExpiresAt: s.Now().Add(s.SessionTTL), UserAgent: info.userAgent, Ip: info.ip,
		})
		if err != nil {
			return err
		}
		return q.CreateRefreshToken(ctx, db.CreateRefreshTokenParams{SessionID: sess.ID, TokenHash: token.HashOpaque(refresh)})
	})
	if err != nil {
		return api.TokenPairJSONResponse{}, err
	}
	return s.issuePair(sess.UserID, sess.ID, refresh, sess.ExpiresAt)
}

func (s *Server) issuePair(userID, sessionID uuid.UUID, refresh string, sessionExpiry time.Time) (api.TokenPairJSONResponse, error) {
	access, err := s.Tokens.Issue(token.Claims{UserID: userID, SessionID: sessionID})
	if err != nil {
		return api.TokenPairJSONResponse{}, err
	}
	return tokenPairJSON(access, s.Tokens.TTL(), refresh, sessionExpiry.Sub(s.Now())), nil
}

// Logout implements api.StrictServerInterface: the caller's session, every
// other one, or all of them.
func (s *Server) Logout(ctx context.Context, req api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	me := caller(ctx)
	q := s.db.Queries()
	scope := api.Current
	if req.Params.Scope != nil {
		scope = *req.Params.Scope
	}
	var err error
	switch scope {
	case api.Others:
		err = q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID, Keep: &me.sessionID})
	case api.All:
		err = q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID})
	default:
		err = q.RevokeSession(ctx, me.sessionID)
	}
	if err != nil {
		return nil, err
	}
	return api.Logout204Response{}, nil
}
