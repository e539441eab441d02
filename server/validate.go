package server

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	oapimw "github.com/oapi-codegen/echo-middleware"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// requestValidator checks every request against openapi.yaml and
// authenticates operations that require bearerAuth. Routes outside the spec
// (Swagger UI assets, 404s, CORS preflights) pass through to Echo.
func (s *Server) requestValidator(spec *openapi3.T) echo.MiddlewareFunc {
	inSpec := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			inSpec[method+" "+echoPath(path)] = true
		}
	}
	return oapimw.OapiRequestValidatorWithOptions(spec, &oapimw.Options{
		Skipper: func(c echo.Context) bool { return !inSpec[c.Request().Method+" "+c.Path()] },
		Options: openapi3filter.Options{
			MultiError:         true,
			KeepValidatedValue: true,
			AuthenticationFunc: s.authenticate,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("email", openapi3.NewCallbackValidator(validateEmail)),
				openapi3.WithStringFormatValidator("new-password", openapi3.NewCallbackValidator(s.validateNewPassword)),
			},
		},
		// Every finding goes to HandleError whole, which ranks them.
		MultiErrorHandler: func(me openapi3.MultiError) *echo.HTTPError {
			return &echo.HTTPError{Code: 400, Message: "invalid request", Internal: me}
		},
		ErrorHandler: func(_ echo.Context, err *echo.HTTPError) error {
			if err.Internal != nil {
				return err.Internal
			}
			return err
		},
	})
}

// echoPath writes an OpenAPI path template the way Echo names its routes:
// /users/me/sessions/{id} becomes /users/me/sessions/:id.
func echoPath(p string) string {
	return pathParam.ReplaceAllString(p, ":$1")
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

// requireCaller is a strict middleware and a second lock: an operation the
// spec protects never reaches its handler without an authenticated caller,
// even if the validator were skipped.
func (s *Server) requireCaller(spec *openapi3.T) api.StrictMiddlewareFunc {
	protected := map[string]bool{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			// The generated handlers name operations in Go case: getMe -> GetMe.
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			protected[name] = op.Security != nil && len(*op.Security) > 0
		}
	}
	return func(next api.StrictHandlerFunc, op string) api.StrictHandlerFunc {
		return func(c echo.Context, req any) (any, error) {
			if protected[op] && caller(c.Request().Context()) == nil {
				return nil, s.unauthorized(false, errors.New("no authenticated caller"))
			}
			return next(c, req)
		}
	}
}

// authenticate verifies the bearer token and that its session is still live,
// then records the caller on the request. Every failure is the same 401.
func (s *Server) authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	ec := oapimw.GetEchoContext(ctx)
	if ec == nil {
		return errors.New("authenticate: no echo context")
	}
	rctx := ec.Request().Context()
	header := ec.Request().Header.Get(echo.HeaderAuthorization)
	scheme, raw, found := strings.Cut(header, " ")
	if header == "" || !found || !strings.EqualFold(scheme, "Bearer") || raw == "" {
		return s.unauthorized(header != "", errors.New("missing bearer token"))
	}
	claims, err := s.tokens.Verify(strings.TrimSpace(raw))
	if err != nil {
		return s.unauthorized(true, err)
	}
	row, err := s.db.Queries().GetSessionUser(rctx, db.GetSessionUserParams{SessionID: claims.SessionID, UserID: claims.UserID, Now: s.now()})
	if errors.Is(err, pgx.ErrNoRows) {
		return s.unauthorized(true, errors.New("session ended or user inactive"))
	}
	if err != nil {
		pe := s.classify(err)
		return &echo.HTTPError{Code: pe.kind.status, Internal: pe}
	}
	info := infoFrom(rctx)
	info.principal = &principal{user: row.User, sessionID: claims.SessionID}
	info.userID = row.User.ID.String()
	return nil
}

// unauthorized is the 401 for bearer-protected operations. The validator only
// passes *echo.HTTPError through, so the problem rides inside one.
func (s *Server) unauthorized(tokenSent bool, cause error) *echo.HTTPError {
	return &echo.HTTPError{Code: 401, Internal: &problemError{
		kind:    kindUnauthorized,
		detail:  "The access token is missing or not valid.",
		headers: map[string]string{"WWW-Authenticate": bearerChallenge(tokenSent)},
		cause:   cause,
	}}
}

// validateNewPassword applies the policy rules that need no other field;
// handlers add the one that needs the email.
func (s *Server) validateNewPassword(v string) error {
	if msgs := s.policy.Violations(v, ""); len(msgs) > 0 {
		return errors.New(strings.Join(msgs, "; "))
	}
	return nil
}

// policyProblem is the 422 for a password that breaks the policy.
func policyProblem(ctx context.Context, msgs []string, field string) api.Problem {
	p := problem(ctx, kindValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: field, Message: strings.Join(msgs, "; ")}}
	return p
}
