package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/password"
)

// handleError is Echo's HTTPErrorHandler: the one place any error becomes a
// problem response. A 5xx is logged once with the request id; no internal
// detail reaches the client.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ctx := c.Request().Context()
	pe := s.classify(err)
	body := problem(ctx, pe.typ, pe.detail)
	body.Instance = ptr(c.Request().URL.Path)
	if len(pe.errors) > 0 {
		body.Errors = &pe.errors
	}
	for k, v := range pe.headers {
		c.Response().Header().Set(k, v)
	}
	switch {
	case pe.typ.status == http.StatusInternalServerError:
		s.log.ErrorContext(ctx, "request failed", "status", pe.typ.status, "error", err.Error())
	case pe.typ.status > 500:
		s.log.WarnContext(ctx, "request refused", "status", pe.typ.status, "error", err.Error())
	case pe.cause != nil:
		s.log.DebugContext(ctx, "request refused", "status", pe.typ.status, "error", pe.cause.Error())
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(pe.typ.status)
		return
	}
	_ = c.JSON(pe.typ.status, body)
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
		return &problemError{typ: typeClientClosed, detail: "The client closed the request.", cause: err}
	case errors.Is(err, database.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return s.unavailable(err)
	case errors.Is(err, password.ErrBusy):
		return busy("Too many password checks are in progress; try again shortly.", err)
	case database.IsTransient(err):
		return busy("The request conflicted with a concurrent one; try again.", err)
	case errors.As(err, &he) && he.Code < 500:
		t := problemType{he.Code, strings.ToLower(strings.ReplaceAll(http.StatusText(he.Code), " ", "-")), http.StatusText(he.Code)}
		if he.Code == http.StatusBadRequest {
			t = typeBadRequest
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			t = typeTooLarge
		}
		return &problemError{typ: t, detail: fmt.Sprint(he.Message), cause: err}
	default:
		return &problemError{typ: typeInternal, detail: "An unexpected error occurred.", cause: err}
	}
}

// notFoundMeans names what a missing row means to the handler that asked:
// outcome when err is database.ErrNotFound, err itself otherwise.
func notFoundMeans(err, outcome error) error {
	if errors.Is(err, database.ErrNotFound) {
		return outcome
	}
	return err
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
		typ:     typeUnavailable,
		detail:  "The service is temporarily unavailable; try again later.",
		headers: map[string]string{"Retry-After": strconv.Itoa(s.breakerRetryAfter())},
		cause:   err,
	}
}

// busy is the 503 problem for work the service sheds under load.
func busy(detail string, err error) *problemError {
	return &problemError{typ: typeUnavailable, detail: detail, headers: map[string]string{"Retry-After": "1"}, cause: err}
}
