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
	"github.com/authd/authd/server/token"
)

// Register implements api.StrictServerInterface.
func (s *Server) Register(ctx context.Context, req api.RegisterRequestObject) (api.RegisterResponseObject, error) {
	hash, err := s.Hasher.Hash(req.Body.Password)
	if err != nil {
		return nil, err
	}
	u, err := s.db.Queries().CreateUser(ctx, db.CreateUserParams{Email: normalizeEmail(req.Body.Email), PasswordHash: hash})
	if database.IsUniqueViolation(err, "users_email_key") {
		return api.Register409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: api.ConflictApplicationProblemPlusJSONResponse(
			problem(ctx, kindEmailTaken, "An account with this email already exists."))}, nil
	}
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "user registered", "user_id", u.ID.String())
	return api.Register201JSONResponse(userJSON(u)), nil
}

// Login implements api.StrictServerInterface. Unknown email, wrong password
// and a deactivated account cost one hash verification each and answer alike.
func (s *Server) Login(ctx context.Context, req api.LoginRequestObject) (api.LoginResponseObject, error) {
	refused := api.Login401ApplicationProblemPlusJSONResponse{InvalidCredentialsApplicationProblemPlusJSONResponse: api.InvalidCredentialsApplicationProblemPlusJSONResponse(
		problem(ctx, kindInvalidCredentials, "The email or password is incorrect."))}
	q := s.db.Queries()
	u, err := q.GetUserByEmail(ctx, normalizeEmail(req.Body.Email))
	if errors.Is(err, pgx.ErrNoRows) {
		s.Hasher.VerifyDummy(req.Body.Password)
		return refused, nil
	}
	if err != nil {
		return nil, err
	}
	ok, rehash, err := s.Hasher.Verify(req.Body.Password, u.PasswordHash)
	if err != nil {
		s.log.ErrorContext(ctx, "stored password hash unreadable", "user_id", u.ID.String(), "error", err.Error())
	}
	if !ok || !u.IsActive {
		return refused, nil
	}
	if rehash {
		s.upgradeHash(ctx, u.ID, req.Body.Password)
	}
	pair, err := s.startSession(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	return api.Login200JSONResponse{TokenPairJSONResponse: pair}, nil
}

// upgradeHash replaces a hash made with other parameters; failing to do so
// must not fail the login, so it is only logged.
func (s *Server) upgradeHash(ctx context.Context, userID uuid.UUID, pw string) {
	hash, err := s.Hasher.Hash(pw)
	if err == nil {
		err = s.db.Queries().SetPasswordHash(ctx, db.SetPasswordHashParams{ID: userID, PasswordHash: hash})
	}
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "user_id", userID.String(), "error", err.Error())
	}
}

// startSession creates a session with its first refresh token and returns the pair.
func (s *Server) startSession(ctx context.Context, userID uuid.UUID) (api.TokenPairJSONResponse, error) {
	info := infoFrom(ctx)
	refresh := token.NewRefresh()
	var sess db.Session
	err := s.db.InTx(ctx, func(q *db.Queries) (err error) {
		sess, err = q.CreateSession(ctx, db.CreateSessionParams{
			UserID: userID, ExpiresAt: s.Now().Add(s.SessionTTL), UserAgent: info.userAgent, Ip: info.ip,
		})
		if err != nil {
			return err
		}
		return q.CreateRefreshToken(ctx, db.CreateRefreshTokenParams{SessionID: sess.ID, TokenHash: token.HashRefresh(refresh)})
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

// Logout implements api.StrictServerInterface.
func (s *Server) Logout(ctx context.Context, _ api.LogoutRequestObject) (api.LogoutResponseObject, error) {
	if err := s.db.Queries().RevokeSession(ctx, caller(ctx).sessionID); err != nil {
		return nil, err
	}
	return api.Logout204Response{}, nil
}
