package server

import (
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/api"
)

// TestAuthenticate_RefusesProtectedOperationsWithoutCaller sends every
// operation of the spec, without a token, through Echo's real routing to the
// authentication step: each one the spec protects is refused with the 401
// before anything after it runs, each public one passes.
func TestAuthenticate_RefusesProtectedOperationsWithoutCaller(t *testing.T) {
	t.Parallel()
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	authenticate, err := s.authenticate(spec)
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	var refused error
	e.HTTPErrorHandler = func(err error, _ echo.Context) { refused = err }
	reached := false
	e.Use(authenticate, func(echo.HandlerFunc) echo.HandlerFunc {
		return func(echo.Context) error { reached = true; return nil }
	})
	api.RegisterHandlers(e, api.NewStrictHandler(s, nil))

	protected := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			refused, reached = nil, false
			target := pathParam.ReplaceAllString(path, "00000000-0000-0000-0000-000000000001")
			e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, target, nil))
			var pe *problemError
			wantAuth := op.Security != nil && len(*op.Security) > 0
			switch {
			case wantAuth && (reached || !errors.As(refused, &pe) || pe.typ != typeUnauthorized):
				t.Errorf("%s %s ran without a caller (refusal %v)", method, path, refused)
			case wantAuth && pe.headers["WWW-Authenticate"] != `Bearer realm="authd"`:
				t.Errorf("%s %s: WWW-Authenticate %q", method, path, pe.headers["WWW-Authenticate"])
			case !wantAuth && !reached:
				t.Errorf("%s %s is public but was refused: %v", method, path, refused)
			}
			protected[op.OperationID] = wantAuth
		}
	}
	for _, op := range []string{"getMe", "updateMe", "deleteMe", "logout", "listSessions", "revokeSession", "listEvents", "confirmEmailChange"} {
		if !protected[op] {
			t.Errorf("%s is not protected by the spec", op)
		}
	}
	for _, op := range []string{"login", "getHealth", "register", "refreshToken"} {
		if protected[op] {
			t.Errorf("%s is protected by the spec", op)
		}
	}
}

func TestNeedsBearer_RefusesRequirementsItCannotCheck(t *testing.T) {
	t.Parallel()
	bearer := openapi3.SecurityRequirement{bearerScheme: {}}
	for name, tc := range map[string]struct {
		security openapi3.SecurityRequirements
		want     bool
		fails    bool
	}{
		"none":                  {security: nil},
		"empty":                 {security: openapi3.SecurityRequirements{}},
		"bearer":                {security: openapi3.SecurityRequirements{bearer}, want: true},
		"bearer or anonymous":   {security: openapi3.SecurityRequirements{bearer, {}}, fails: true},
		"another scheme":        {security: openapi3.SecurityRequirements{{"apiKey": {}}}, fails: true},
		"bearer and another":    {security: openapi3.SecurityRequirements{{bearerScheme: {}, "apiKey": {}}}, fails: true},
		"bearer or another one": {security: openapi3.SecurityRequirements{bearer, {"apiKey": {}}}, fails: true},
	} {
		got, err := needsBearer(tc.security)
		if (err != nil) != tc.fails || (!tc.fails && got != tc.want) {
			t.Errorf("%s: needsBearer = %v, %v", name, got, err)
		}
	}
}

func TestBearerToken_ParsesTheAuthorizationHeader(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc":  "abc",
		"bearer abc":  "abc",
		"BEARER  abc": "abc",
		"Bearer  ":    "",
	} {
		if got, ok := bearerToken(header); !ok || got != want {
			t.Errorf("%q: %q, %v; want %q", header, got, ok, want)
		}
	}
	for _, header := range []string{"", "Bearer", "Bearer ", "Basic abc", "Bearerabc", "Token abc"} {
		if got, ok := bearerToken(header); ok {
			t.Errorf("%q: accepted as %q", header, got)
		}
	}
}
