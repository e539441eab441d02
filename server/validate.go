package server

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/api"
)

// requestValidator checks every request of the spec's operations against
// openapi.yaml. Routes outside the spec (Swagger UI assets, development link
// pages, 404s, CORS preflights) pass through to Echo. The operation is the one
// of the route Echo already matched (routeKey), so no second router runs; a
// finding is returned as kin-openapi's error, which handleError ranks.
func (s *Server) requestValidator(spec *openapi3.T) echo.MiddlewareFunc {
	routes := specRoutes(spec)
	options := &openapi3filter.Options{
		MultiError:         true,
		KeepValidatedValue: true,
		// Authentication is a step of its own (authenticate) that ran on
		// the same routes before the validator: a request that gets here
		// has passed its security already.
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{
			openapi3.WithStringFormatValidator("email", openapi3.NewCallbackValidator(validateEmail)),
			openapi3.WithStringFormatValidator("new-password", openapi3.NewCallbackValidator(s.validateNewPassword)),
		},
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			route := routes[routeKey(c)]
			if route == nil {
				return next(c)
			}
			params := pathParams(c)
			if pe := notUTF8(c.QueryParams(), params); pe != nil {
				return pe
			}
			err := openapi3filter.ValidateRequest(c.Request().Context(), &openapi3filter.RequestValidationInput{
				Request: c.Request(), PathParams: params, Route: route, Options: options,
			})
			if err != nil {
				return err
			}
			return next(c)
		}
	}
}

// pathParams are the values Echo matched for the route's parameters, as the
// generated handlers bind them: Echo routes on the escaped path when the
// request's differs from Go's own escaping (RawPath is set), and the handler
// unescapes those values; otherwise they are unescaped already, and another
// unescape would check a value the handler never sees ("%2561" is "%61" to
// the handler). A value that does not unescape is passed as it came, and
// fails its schema.
func pathParams(c echo.Context) map[string]string {
	names := c.ParamNames()
	if len(names) == 0 {
		return nil
	}
	escaped := c.Request().URL.RawPath != ""
	values := c.ParamValues()
	params := make(map[string]string, len(names))
	for i, name := range names {
		v := values[i]
		if unescaped, err := url.PathUnescape(v); escaped && err == nil {
			v = unescaped
		}
		params[name] = v
	}
	return params
}

// notUTF8 is the 400 naming each query or path parameter that is not UTF-8
// text, nil when all are. The spec's patterns cannot refuse such a
// value (Go's regexp reads a stray byte as U+FFFD), and PostgreSQL refuses
// it as text, which would be a 500.
func notUTF8(query url.Values, path map[string]string) *problemError {
	var bad []api.FieldError
	for name, values := range query {
		for _, v := range values {
			if !utf8.ValidString(v) {
				bad = append(bad, api.FieldError{Field: name, Message: "is not UTF-8 text"})
				break
			}
		}
	}
	for name, v := range path {
		if !utf8.ValidString(v) {
			bad = append(bad, api.FieldError{Field: name, Message: "is not UTF-8 text"})
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Field < bad[j].Field })
	return &problemError{typ: typeBadRequest, detail: joinMessages(bad), errors: bad}
}

// specRoutes maps the route Echo matches each operation of the spec by,
// "METHOD /echo/path" (see routeKey), to kin-openapi's route of that
// operation. The validator and authenticate both find a request's operation
// here, so they agree on which requests are the spec's.
func specRoutes(spec *openapi3.T) map[string]*routers.Route {
	routes := map[string]*routers.Route{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			routes[method+" "+echoPath(path)] = &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op}
		}
	}
	return routes
}

// routesMatchSpec refuses an application whose generated routes and spec
// disagree: authentication and validation find a route's operation by its
// key, so a route missing from the spec would be served unchecked.
func routesMatchSpec(e *echo.Echo, spec *openapi3.T) error {
	inSpec := specRoutes(spec)
	for _, r := range e.Routes() {
		if inSpec[r.Method+" "+r.Path] == nil {
			return fmt.Errorf("route %s %s is not in the spec", r.Method, r.Path)
		}
	}
	if n := len(e.Routes()); n != len(inSpec) {
		return fmt.Errorf("%d routes registered for the spec's %d operations", n, len(inSpec))
	}
	return nil
}

// routeKey names the route Echo matched for c the way specRoutes does. Echo
// routes before it runs the middleware of e.Use, so c.Path() is set; it is
// the route's template, never the raw path.
func routeKey(c echo.Context) string { return c.Request().Method + " " + c.Path() }

// echoPath writes an OpenAPI path template the way Echo names its routes:
// /users/me/sessions/{id} becomes /users/me/sessions/:id.
func echoPath(p string) string {
	return pathParam.ReplaceAllString(p, ":$1")
}

var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

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
	p := problem(ctx, typeValidation, "1 field is invalid.")
	p.Errors = &[]api.FieldError{{Field: field, Message: strings.Join(msgs, "; ")}}
	return p
}
