package server

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/token"
)

// Login implements api.StrictServerInterface. Unknown email, wrong password
// and a deactivated account cost one hash verification each and answer
// alike; so do their limits, which are keyed by the address as typed.
func (s *Server) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	res, err := s.login(ctx, req)
	if outcome := loginOutcome(res); outcome != "" {
		s.metrics.Logins.WithLabelValues(outcome).Inc()
	}
	return res, err
}

// loginOutcome names a login's result for metrics; "" for failures of ours.
// The rate limits count the logins they refuse themselves (countThrottled).
func loginOutcome(res api.LoginResponseObject) string {
	switch res.(type) {
	case api.Login200JSONResponse:
		return "success"
	case api.Login202JSONResponse:
		return "mfa_required"
	case api.Login401ApplicationProblemPlusJSONResponse:
		return "bad_credentials"
	case api.Login403ApplicationProblemPlusJSONResponse:
		return "unverified"
	case api.Login429ApplicationProblemPlusJSONResponse:
		return "throttled"
	}
	return ""
}

func (s *Server) login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	refused := api.Login401ApplicationProblemPlusJSONResponse{InvalidCredentialsApplicationProblemPlusJSONResponse: invalidCredentials(ctx)}
	email, ip := normalizeEmail(req.Body.Email), infoFrom(ctx).ip
	u, err := s.db.Queries().GetUserByEmail(ctx, email)
	var known *db.User
	switch {
	case err == nil:
		known = &u
	case !errors.Is(err, database.ErrNotFound):
		return nil, err
	}
	if wait, err := s.admitLogin(ctx, email, ip); err != nil || wait != nil {
		if err != nil {
			return nil, err
		}
		return api.Login429ApplicationProblemPlusJSONResponse{TooManyRequestsApplicationProblemPlusJSONResponse: loginBackoff(ctx, wait)}, nil
	}
	ok, rehash := false, false
	if known == nil {
		err = s.hasher.VerifyDummy(ctx, req.Body.Password)
	} else if ok, rehash, err = s.hasher.Verify(ctx, req.Body.Password, u.PasswordHash); errors.Is(err, password.ErrUnknownHash) {
		s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID.String())
		err = nil
	}
	if err != nil {
		return nil, err
	}
	if !ok || !u.IsActive {
		// admitLogin counted the failure already. One durable commit for
		// every failure: a real account records its trail event, an unknown
		// address a decoy that keeps nothing, so timing tells them not apart.
		err := s.db.InTx(ctx, func(q *db.Queries) error {
			if known == nil {
				return q.DecoyEvent(ctx)
			}
			return s.recordSecurityEvent(ctx, q, u.ID, evLoginFailed, nil)
		})
		if err != nil {
			s.log.WarnContext(ctx, "could not record a failed login", "error", err.Error())
		}
		return refused, nil
	}
	second, err := s.secondStepNeeded(ctx, u)
	if err != nil {
		return nil, err
	}
	if second == noSecondStep {
		// The password is right and is all this login needs: this client's
		// failures are forgiven, whatever happens next. With a second step
		// only a right code forgives (VerifyMfa), so that knowing the
		// password does not reset the count of wrong codes.
		s.forgiveLogin(ctx, email, ip)
	}

	// Only an account from before verification was required gets here
	// unverified: a pending registration has no account, and its address
	// answered 401 above like an unknown one.
	if s.mail.RequireVerified && u.EmailVerifiedAt == nil {
		return api.Login403ApplicationProblemPlusJSONResponse{EmailNotVerifiedApplicationProblemPlusJSONResponse: emailNotVerified(ctx)}, nil
	}
	var upgraded string
	if rehash {
		if upgraded, err = s.hasher.Hash(ctx, req.Body.Password); err != nil {
			s.log.WarnContext(ctx, "password rehash skipped", "user_id", u.ID.String(), "error", err.Error())
			upgraded = ""
		}
	}
	if second != noSecondStep {
		ch, err := s.challenge(ctx, u, upgraded, second, []string{token.MethodPassword})
		if errors.Is(err, errCredentialsChanged) {
			return refused, nil
		}
		if err != nil {
			return nil, err
		}
		return api.Login202JSONResponse{MfaChallengeJSONResponse: ch}, nil
	}
	pair, err := s.startSession(ctx, u, upgraded, []string{token.MethodPassword})
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

// startSession creates a session authenticated by amr, now, with its first
// refresh token and returns the pair. It holds the user row and checks that
// the hash it verified is still the stored one, so a login racing a password
// change cannot outlive it; upgraded, when set, replaces a hash made with
// other parameters.
func (s *Server) startSession(ctx context.Context, u db.User, upgraded string, amr []string) (api.TokenPairJSONResponse, error) {
	var sess db.Session
	var refresh string
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		sess, refresh, err = s.createSession(ctx, q, u, upgraded, amr)
		return err
	})
	if err != nil {
		return api.TokenPairJSONResponse{}, err
	}
	return s.sessionPair(sess, u.Roles, refresh)
}

// createSession is startSession's work in q's transaction: the session and
// its first refresh token, which it returns in clear, and its event
// (login_succeeded, or federated_login when a provider's login made it). errCredentialsChanged
// when u's stored hash or state is no longer the one the caller checked, or
// when a session without a second factor would start on an account that
// has one by now (a first factor activated while this login ran).
func (s *Server) createSession(ctx context.Context, q *db.Queries, u db.User, upgraded string, amr []string) (db.Session, string, error) {
	info := infoFrom(ctx)
	refresh := token.NewOpaque()
	cur, err := q.LockUserCredentials(ctx, u.ID)
	if err != nil {
		return db.Session{}, "", err
	}
	if cur.PasswordHash != u.PasswordHash || !cur.IsActive {
		return db.Session{}, "", errCredentialsChanged
	}
	if token.AAL(amr) < 2 {
		// Factors change under this lock (lockFactorsOf), so this is current.
		has, err := q.HasActiveFactor(ctx, u.ID)
		if err != nil {
			return db.Session{}, "", err
		}
		if has {
			return db.Session{}, "", errCredentialsChanged
		}
	}
	if upgraded != "" {
		if err := q.SetPasswordHash(ctx, db.SetPasswordHashParams{ID: u.ID, PasswordHash: upgraded}); err != nil {
			return db.Session{}, "", err
		}
	}
	if err := s.makeRoomForSession(ctx, q, u.ID); err != nil {
		return db.Session{}, "", err
	}
	sess, err := q.CreateSession(ctx, db.CreateSessionParams{
		UserID: u.ID, ExpiresAt: s.now().Add(s.sessionTTL), UserAgent: info.userAgent, Ip: info.ip, Now: s.now(), Amr: amr,
	})
	if err != nil {
		return db.Session{}, "", err
	}
	event := evLoginSucceeded
	if slices.Contains(amr, token.MethodFederated) {
		event = evFederatedLogin
	}
	if err := s.recordSecurityEvent(ctx, q, u.ID, event, &sess.ID); err != nil {
		return db.Session{}, "", err
	}
	return sess, refresh, q.CreateRefreshToken(ctx, db.CreateRefreshTokenParams{SessionID: sess.ID, TokenHash: token.HashOpaque(refresh), Now: s.now()})
}

// sessionPair is the token pair of a new session of a user with roles and
// the session's refresh token.
func (s *Server) sessionPair(sess db.Session, roles []string, refresh string) (api.TokenPairJSONResponse, error) {
	return s.issuePair(token.Claims{UserID: sess.UserID, SessionID: sess.ID, AMR: sess.Amr, AuthTime: sess.AuthTime, Roles: roles}, refresh, sess.ExpiresAt)
}

// makeRoomForSession ends the user's oldest live sessions so that one more
// fits under MaxSessionsPerUser, each with a session_revoked event. The
// caller holds the user row, so racing logins cannot both see room.
func (s *Server) makeRoomForSession(ctx context.Context, q *db.Queries, userID uuid.UUID) error {
	ended, err := q.RevokeSessionsOverCap(ctx, db.RevokeSessionsOverCapParams{UserID: userID, Now: s.now(), Keep: int32(s.maxSessionsPerUser - 1)}) //nolint:gosec // G115: config holds it to 1..100
	if err != nil {
		return err
	}
	for _, id := range ended {
		if err := s.recordSecurityEvent(ctx, q, userID, evSessionRevoked, &id); err != nil {
			return err
		}
	}
	return s.countRevoked(ctx, "session_cap")(int64(len(ended)), nil)
}

// issuePair signs an access token with the session's claims c and pairs it
// with its refresh token.
func (s *Server) issuePair(c token.Claims, refresh string, sessionExpiry time.Time) (api.TokenPairJSONResponse, error) {
	access, err := s.tokens.Issue(c)
	if err != nil {
		return api.TokenPairJSONResponse{}, err
	}
	return tokenPairJSON(access, s.tokens.TTL(), refresh, sessionExpiry.Sub(s.now())), nil
}

// Logout implements api.StrictServerInterface: the caller's session, every
// other one, or all of them.
func (s *Server) Logout(ctx context.Context, req api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	me := caller(ctx)
	scope := api.Current
	if req.Params.Scope != nil {
		scope = *req.Params.Scope
	}
	var err error
	count := s.countRevoked(ctx, "logout")
	err = s.db.InTx(ctx, func(q *db.Queries) error {
		var err error
		switch scope {
		case api.Others:
			err = count(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID, Keep: &me.sessionID, Now: s.now()}))
		case api.All:
			err = count(q.RevokeUserSessions(ctx, db.RevokeUserSessionsParams{UserID: me.user.ID, Now: s.now()}))
		default:
			err = count(q.RevokeSession(ctx, db.RevokeSessionParams{ID: me.sessionID, Now: s.now()}))
		}
		if err != nil {
			return err
		}
		return s.recordSecurityEvent(ctx, q, me.user.ID, evLogout, &me.sessionID)
	})
	if err != nil {
		return nil, err
	}
	s.metrics.Logouts.WithLabelValues(string(scope)).Inc()
	return api.Logout204Response{}, nil
}
