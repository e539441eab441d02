package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/api"
)

// TestRoutesMatchSpec_RefusesAnAppWithARouteTheSpecLacks: authentication
// and validation find a request's operation by the route Echo matched; the
// generated routes must all be found, and an app with one the spec lacks
// (it would be served unchecked) must not start.
func TestRoutesMatchSpec_RefusesAnAppWithARouteTheSpecLacks(t *testing.T) {
	t.Parallel()
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	api.RegisterHandlers(e, api.NewStrictHandler(&Server{}, nil))
	if err := routesMatchSpec(e, spec); err != nil {
		t.Fatalf("the generated routes and the spec disagree: %v", err)
	}
	e.GET("/users/me/extra", func(echo.Context) error { return nil })
	if err := routesMatchSpec(e, spec); err == nil || !strings.Contains(err.Error(), "GET /users/me/extra") {
		t.Errorf("a route outside the spec was accepted: %v", err)
	}

	lacking, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	lacking.Paths.Find("/users/me").Get = nil
	e = echo.New()
	api.RegisterHandlers(e, api.NewStrictHandler(&Server{}, nil))
	if err := routesMatchSpec(e, lacking); err == nil || !strings.Contains(err.Error(), "GET /users/me") {
		t.Errorf("a generated route the spec lacks was accepted: %v", err)
	}
}

// TestRouteKey_IsTheRouteTemplate: authentication keys on the matched route,
// never on the raw path a client wrote.
func TestRouteKey_IsTheRouteTemplate(t *testing.T) {
	t.Parallel()
	e := echo.New()
	var got string
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { got = routeKey(c); return next(c) }
	})
	e.DELETE("/users/me/sessions/:id", func(echo.Context) error { return nil })
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodDelete, "/users/me/sessions/abc", nil))
	if got != "DELETE /users/me/sessions/:id" {
		t.Errorf("routeKey = %q", got)
	}
	if echoPath("/users/me/sessions/{id}") != "/users/me/sessions/:id" {
		t.Errorf("echoPath = %q", echoPath("/users/me/sessions/{id}"))
	}
}
