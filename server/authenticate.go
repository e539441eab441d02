package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/token"
)

// bearerScheme is the one security scheme authd implements.
const bearerScheme = "bearerAuth"

// authenticate is the authentication step of the chain. On every route whose
// operation the spec protects with bearerAuth it admits only a request that
// carries the access token of a live session of an active user, and puts
// that caller on the request for handlers (see caller). It runs before the
// request validator, so a caller without a valid token is answered 401
// whatever validation would say of its request (only guardBody's checks of
// the raw body come first).
func (s *Server) authenticate(spec *openapi3.T) (echo.MiddlewareFunc, error) {
	protected, err := bearerRoutes(spec)
	if err != nil {
		return nil, err
	}
	sensitive, err := stepUpRoutes(spec, protected)
	if err != nil {
		return nil, err
	}
	admin, err := adminRoutes(spec)
	if err != nil {
		return nil, err
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := routeKey(c)
			if scope, ok := admin[route]; ok {
				if err := s.admitAdmin(c.Request(), scope); err != nil {
					return err
				}
				return next(c)
			}
			if !protected[route] {
				return next(c)
			}
			if err := s.admit(c.Request()); err != nil {
				return err
			}
			if sensitive[route] {
				if err := s.requireRecentAuth(c.Request().Context()); err != nil {
					return err
				}
			}
			return next(c)
		}
	}, nil
}

// bearerRoutes maps every route of the spec (see specRoutes) to whether its
// operation requires bearerAuth: its own security, else the spec's. A
// requirement authd cannot check (another scheme, or an anonymous
// alternative beside bearerAuth) stops the start instead of leaving the
// route open.
func bearerRoutes(spec *openapi3.T) (map[string]bool, error) {
	protected := map[string]bool{}
	for route, r := range specRoutes(spec) {
		op := r.Operation
		security := spec.Security
		if op.Security != nil {
			security = *op.Security
		}
		if _, admin := op.Extensions[adminScopeExtension]; admin {
			continue // adminRoutes checks and admits these
		}
		needs, err := needsBearer(security)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", route, err)
		}
		protected[route] = needs
	}
	return protected, nil
}

// needsBearer reads one operation's security: none lets anyone in; otherwise
// every alternative must be bearerAuth alone.
func needsBearer(security openapi3.SecurityRequirements) (bool, error) {
	for _, req := range security {
		if _, ok := req[bearerScheme]; !ok || len(req) != 1 {
			return false, fmt.Errorf("security requirement %v: only %s alone is implemented", req, bearerScheme)
		}
	}
	return len(security) > 0, nil
}

// admit checks the request's bearer token and that its session is still
// live, then records the caller on the request. Every refusal is the same
// 401; a database failure is returned as it is, for the error handler.
func (s *Server) admit(r *http.Request) error {
	ctx := r.Context()
	header := r.Header.Get(echo.HeaderAuthorization)
	token, ok := bearerToken(header)
	if !ok {
		return unauthorized(header != "", errors.New("missing bearer token"))
	}
	claims, err := s.tokens.Verify(token)
	if err != nil {
		return unauthorized(true, err)
	}
	row, err := s.db.Queries().GetSessionUser(ctx, db.GetSessionUserParams{SessionID: claims.SessionID, UserID: claims.UserID, Now: s.now()})
	if errors.Is(err, database.ErrNotFound) {
		return unauthorized(true, errors.New("session ended or user inactive"))
	}
	if err != nil {
		return err
	}
	setCaller(ctx, &principal{user: row.User, sessionID: claims.SessionID, claims: claims})
	return nil
}

// bearerToken is the token of an "Authorization: Bearer <token>" header
// (the scheme in any case), and whether the header has that shape.
func bearerToken(header string) (string, bool) {
	scheme, raw, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return "", false
	}
	return strings.TrimSpace(raw), true
}

// principal is the authenticated caller: a live session of an active user.
type principal struct {
	user      db.User
	sessionID uuid.UUID
	claims    token.Claims // how and when the session authenticated (amr, auth_time)
}

// caller returns the authenticated principal. Its session was checked in
// the database by authenticate (admit), before validation, on this very
// request: handlers behind bearerAuth always have one and never re-check it.
func caller(ctx context.Context) *principal { return infoFrom(ctx).principal }

// setCaller records the authenticated caller on the request of ctx, for
// handlers and for every later log line.
func setCaller(ctx context.Context, p *principal) {
	info := infoFrom(ctx)
	info.principal = p
	info.userID = p.user.ID.String()
}

// setActor records who acts on the admin API, for events and logs.
func setActor(ctx context.Context, actor string) {
	infoFrom(ctx).actor = actor
}

// unauthorized is the one 401 of a bearer-protected operation.
func unauthorized(tokenSent bool, cause error) *problemError {
	return &problemError{
		typ:     typeUnauthorized,
		detail:  "The access token is missing or not valid.",
		headers: map[string]string{"WWW-Authenticate": bearerChallenge(tokenSent)},
		cause:   cause,
	}
}
