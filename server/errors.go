package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/password"
)

// problemTypeBase prefixes every problem type URI; the suffixes are stable API.
const problemTypeBase = "https://authd.dev/problems/"

// kind is one class of problem: its status, type suffix and title.
type kind struct {
	status int
	slug   string
	title  string
}

var (
	kindBadRequest         = kind{http.StatusBadRequest, "bad-request", "Bad request"}
	kindValidation         = kind{http.StatusUnprocessableEntity, "validation", "Validation failed"}
	kindTooLarge           = kind{http.StatusRequestEntityTooLarge, "payload-too-large", "Payload too large"}
	kindUnauthorized       = kind{http.StatusUnauthorized, "unauthorized", "Unauthorized"}
	kindInvalidCredentials = kind{http.StatusUnauthorized, "invalid-credentials", "Invalid credentials"}
	kindInvalidRefresh     = kind{http.StatusUnauthorized, "invalid-refresh-token", "Invalid refresh token"}
	kindWrongPassword      = kind{http.StatusForbidden, "wrong-password", "Wrong password"}
	kindEmailTaken         = kind{http.StatusConflict, "email-taken", "Email already registered"}
	kindUnavailable        = kind{http.StatusServiceUnavailable, "unavailable", "Service unavailable"}
	kindRateLimited        = kind{http.StatusTooManyRequests, "rate-limited", "Too many requests"}
	kindLoginBackoff       = kind{http.StatusTooManyRequests, "login-backoff", "Too many failed logins"}
	kindNotFound           = kind{http.StatusNotFound, "not-found", "Not found"}
	kindInvalidToken       = kind{http.StatusBadRequest, "invalid-token", "Invalid or expired link"}
	kindNotVerified        = kind{http.StatusForbidden, "email-not-verified", "Email not verified"}
	kindNotReady           = kind{http.StatusServiceUnavailable, "not-ready", "Service not ready"}
	kindInternal           = kind{http.StatusInternalServerError, "internal", "Internal server error"}
	// kindClientClosed is nginx's 499: the client left before the answer, so
	// nobody reads it; it only keeps such requests out of the 5xx figures.
	kindClientClosed = kind{499, "client-closed-request", "Client closed request"}
)

// problem builds the problem body for k in the request of ctx.
func problem(ctx context.Context, k kind, detail string) api.Problem {
	p := api.Problem{
		Type:      problemTypeBase + k.slug,
		Title:     k.title,
		Status:    k.status,
		Detail:    detail,
		RequestId: requestID(ctx),
	}
	if path := infoFrom(ctx).path; path != "" {
		p.Instance = &path
	}
	return p
}

// problemError is an error that already knows its problem response; middleware
// and the authenticator return it, the error handler renders it.
type problemError struct {
	kind    kind
	detail  string
	errors  []api.FieldError
	headers map[string]string
	cause   error // for logs only
}

func (e *problemError) Error() string {
	if e.cause != nil {
		return e.kind.slug + ": " + e.cause.Error()
	}
	return e.kind.slug + ": " + e.detail
}

func (e *problemError) Unwrap() error { return e.cause }

// bearerChallenge is the WWW-Authenticate value for a refused bearer token.
func bearerChallenge(tokenSent bool) string {
	if tokenSent {
		return `Bearer realm="authd", error="invalid_token"`
	}
	return `Bearer realm="authd"`
}

// breakerRetryAfter is how many seconds remain until the breaker lets a
// call through again, at least one.
func (s *Server) breakerRetryAfter() int {
	_, wait := s.db.BreakerOpen()
	return ceilSeconds(wait.Seconds())
}

// unavailable is the 503 problem for database trouble.
func (s *Server) unavailable(err error) *problemError {
	return &problemError{
		kind:    kindUnavailable,
		detail:  "The service is temporarily unavailable; try again later.",
		headers: map[string]string{"Retry-After": strconv.Itoa(s.breakerRetryAfter())},
		cause:   err,
	}
}

// busy is the 503 problem for work the service sheds under load.
func busy(detail string, err error) *problemError {
	return &problemError{kind: kindUnavailable, detail: detail, headers: map[string]string{"Retry-After": "1"}, cause: err}
}

// HandleError is Echo's HTTPErrorHandler: the one place any error becomes a
// problem response. A 5xx is logged once with the request id; no internal
// detail reaches the client.
func (s *Server) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ctx := c.Request().Context()
	pe := s.classify(err)
	body := problem(ctx, pe.kind, pe.detail)
	body.Instance = ptr(c.Request().URL.Path)
	if len(pe.errors) > 0 {
		body.Errors = &pe.errors
	}
	for k, v := range pe.headers {
		c.Response().Header().Set(k, v)
	}
	switch {
	case pe.kind.status == http.StatusInternalServerError:
		s.log.ErrorContext(ctx, "request failed", "status", pe.kind.status, "error", err.Error())
	case pe.kind.status > 500:
		s.log.WarnContext(ctx, "request refused", "status", pe.kind.status, "error", err.Error())
	case pe.cause != nil:
		s.log.DebugContext(ctx, "request refused", "status", pe.kind.status, "error", pe.cause.Error())
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(pe.kind.status)
		return
	}
	_ = c.JSON(pe.kind.status, body)
}

// classify maps any error to a problem.
func (s *Server) classify(err error) *problemError {
	var pe *problemError
	var he *echo.HTTPError
	var me openapi3.MultiError
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &me):
		return s.validationProblem(me)
	case errors.Is(err, context.Canceled):
		return &problemError{kind: kindClientClosed, detail: "The client closed the request.", cause: err}
	case errors.Is(err, database.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return s.unavailable(err)
	case errors.Is(err, password.ErrBusy):
		return busy("Too many password checks are in progress; try again shortly.", err)
	case database.IsTransient(err):
		return busy("The request conflicted with a concurrent one; try again.", err)
	case errors.As(err, &he) && he.Code < 500:
		k := kind{he.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-")), http.StatusText(he.Code)}
		if he.Code == http.StatusBadRequest {
			k = kindBadRequest
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			k = kindTooLarge
		}
		return &problemError{kind: k, detail: fmt.Sprint(he.Message), cause: err}
	default:
		return &problemError{kind: kindInternal, detail: "An unexpected error occurred.", cause: err}
	}
}

// validationProblem turns the request validator's findings into one problem.
// Authentication failures win, then shape errors (400), then rule errors (422).
func (s *Server) validationProblem(me openapi3.MultiError) *problemError {
	var shape, rules []api.FieldError
	for _, err := range me {
		var sec *openapi3filter.SecurityRequirementsError
		if errors.As(err, &sec) {
			for _, e := range sec.Errors {
				var pe *problemError
				if errors.As(e, &pe) {
					return pe
				}
			}
			return s.classify(errors.Join(sec.Errors...))
		}
		var re *openapi3filter.RequestError
		if !errors.As(err, &re) {
			return &problemError{kind: kindInternal, detail: "An unexpected error occurred.", cause: err}
		}
		var schemaErrs []*openapi3.SchemaError
		collectSchemaErrors(re.Err, &schemaErrs)
		if len(schemaErrs) == 0 {
			shape = append(shape, api.FieldError{Field: "", Message: requestErrorMessage(re)})
			continue
		}
		for _, se := range schemaErrs {
			fe := api.FieldError{Field: fieldOf(se), Message: se.Reason}
			switch {
			case se.SchemaField == "type", se.SchemaField == "nullable":
				shape = append(shape, fe)
			case se.SchemaField == "properties" || se.SchemaField == "additionalProperties":
				// an unknown field: name it, like a missing one is named
				var name string
				if _, err := fmt.Sscanf(se.Reason, "property %q is unsupported", &name); err == nil {
					fe.Field = strings.TrimPrefix(fe.Field+"."+name, ".")
				}
				fe.Message = "unknown field"
				shape = append(shape, fe)
			default:
				fe.Message = ruleMessage(se)
				rules = append(rules, fe)
			}
		}
	}
	if len(shape) > 0 {
		return &problemError{kind: kindBadRequest, detail: joinMessages(shape), errors: shape}
	}
	sort.SliceStable(rules, func(i, j int) bool { return rules[i].Field < rules[j].Field })
	detail := fmt.Sprintf("%d fields are invalid.", len(rules))
	if len(rules) == 1 {
		detail = "1 field is invalid."
	}
	return &problemError{kind: kindValidation, detail: detail, errors: rules}
}

// formatReason matches kin-openapi's wording around our own format messages.
var formatReason = regexp.MustCompile(`^string doesn't match the format "[^"]*"(?: \((.*)\)|: (.*))$`)

// ruleMessage words a rule violation for people, using the spec's numbers.
func ruleMessage(se *openapi3.SchemaError) string {
	switch se.SchemaField {
	case "required":
		return "is required"
	case "minLength":
		return fmt.Sprintf("must be at least %d characters", se.Schema.MinLength)
	case "maxLength":
		if se.Schema.MaxLength != nil {
			return fmt.Sprintf("must be at most %d characters", *se.Schema.MaxLength)
		}
	case "minProperties":
		return "name at least one field to change"
	case "format":
		if m := formatReason.FindStringSubmatch(se.Reason); m != nil {
			return m[1] + m[2]
		}
	}
	return se.Reason
}

func collectSchemaErrors(err error, out *[]*openapi3.SchemaError) {
	var me openapi3.MultiError
	var se *openapi3.SchemaError
	switch {
	case errors.As(err, &me):
		for _, e := range me {
			collectSchemaErrors(e, out)
		}
	case errors.As(err, &se):
		*out = append(*out, se)
	}
}

// fieldOf names the failing field: the JSON pointer of the value, or for a
// missing or unknown property, that property.
func fieldOf(se *openapi3.SchemaError) string {
	return strings.Join(se.JSONPointer(), ".")
}

func requestErrorMessage(re *openapi3filter.RequestError) string {
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return "a request body is required"
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return "Content-Type must be application/json"
	case re.Reason != "":
		return re.Reason
	default:
		return "the request is not valid"
	}
}

func joinMessages(fes []api.FieldError) string {
	parts := make([]string, len(fes))
	for i, fe := range fes {
		if fe.Field == "" {
			parts[i] = fe.Message
		} else {
			parts[i] = fe.Field + ": " + fe.Message
		}
	}
	return strings.Join(parts, "; ")
}

func ptr[T any](v T) *T { return &v }
