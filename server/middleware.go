package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/server/jsonguard"
	"github.com/authd/authd/server/metrics"
)

// MaxBodyBytes is the largest request body authd reads (64 KiB).
const MaxBodyBytes = 64 << 10

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// requestContext gives each request its id (the client's when sane), its
// shared requestInfo and its deadline.
func requestContext(timeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := c.Request().Header.Get(echo.HeaderXRequestID)
			if !saneRequestID.MatchString(id) {
				id = rand.Text()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			info := &requestInfo{id: id, path: c.Request().URL.Path, ip: c.RealIP(), userAgent: cleanHeader(c.Request().UserAgent(), 512)}
			// The span's client is the one limits and logs see, not the
			// first X-Forwarded-For entry any client can write.
			trace.SpanFromContext(c.Request().Context()).SetAttributes(attribute.String("client.address", info.ip))
			ctx, cancel := context.WithTimeout(withInfo(c.Request().Context(), info), timeout)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// accessLog writes one line per request and counts it in the HTTP metrics,
// after the error handler has run so that the status is the one the client
// saw.
func accessLog(log *slog.Logger, m *metrics.Metrics) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			if err := next(c); err != nil {
				c.Error(err)
			}
			route := c.Path()
			if route == "" {
				route = "unmatched" // not the raw path: unbounded label values
			}
			if c.Response().Status < 500 {
				for _, count := range infoFrom(c.Request().Context()).counts {
					count()
				}
			}
			took := time.Since(start)
			method := knownMethod(c.Request().Method)
			span := trace.SpanFromContext(c.Request().Context())
			span.SetName(method + " " + route)
			span.SetAttributes(attribute.String("http.route", route))
			m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(c.Response().Status)).Inc()
			m.HTTPDuration.WithLabelValues(route, method).Observe(took.Seconds())
			log.InfoContext(c.Request().Context(), "request",
				"method", c.Request().Method,
				"route", c.Path(),
				"status", c.Response().Status,
				"duration_ms", float64(took.Microseconds())/1000,
				"bytes_out", c.Response().Size,
			)
			return nil
		}
	}
}

// knownMethod keeps metric labels bounded: net/http accepts any token as a
// method, so anything unusual is "other".
func knownMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// recoverPanics turns a panic into a 500; the stack goes to the log, never
// the panic value's text, which might hold a secret.
func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if r := recover(); r != nil {
					if r == http.ErrAbortHandler {
						panic(r)
					}
					log.ErrorContext(c.Request().Context(), "panic", "stack", string(debug.Stack()))
					err = errors.New("panic in handler")
				}
			}()
			return next(c)
		}
	}
}

// securityHeaders sets headers that keep browsers from misusing responses.
// Swagger UI needs its own scripts and inline styles; the API needs nothing.
// hsts: the public URL is https, so browsers must never try plain http.
func securityHeaders(hsts bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			if hsts {
				h.Set("Strict-Transport-Security", "max-age=31536000")
			}
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "no-referrer")
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			if c.Path() == "/docs" || strings.HasPrefix(c.Path(), "/docs/") {
				h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; frame-ancestors 'none'")
			} else {
				h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
			}
			return next(c)
		}
	}
}

// guardBody caps the body at MaxBodyBytes and refuses JSON that is malformed
// or repeats a key, before the request validator (which would silently keep
// the last duplicate) sees it.
func guardBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Body == nil || req.Body == http.NoBody {
			return next(c)
		}
		if req.Method != http.MethodPost && req.Method != http.MethodPut && req.Method != http.MethodPatch {
			// No operation of another method takes a body: leave it unread,
			// and net/http discards it.
			return next(c)
		}
		tooLarge := &problemError{kind: kindTooLarge, detail: fmt.Sprintf("The request body must be at most %d bytes.", MaxBodyBytes)}
		if req.ContentLength > MaxBodyBytes {
			return tooLarge
		}
		data, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
		if err != nil {
			return &problemError{kind: kindBadRequest, detail: "The request body could not be read.", cause: err}
		}
		if len(data) > MaxBodyBytes {
			return tooLarge
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.ContentLength = int64(len(data))
		if mt, _, _ := mime.ParseMediaType(req.Header.Get(echo.HeaderContentType)); len(data) > 0 && mt == echo.MIMEApplicationJSON {
			if err := jsonguard.Check(data); err != nil {
				return &problemError{kind: kindBadRequest, detail: "The body is not valid JSON: " + err.Error()}
			}
		}
		return next(c)
	}
}

// cleanHeader makes a header value safe to store: valid UTF-8, no control
// characters, at most n bytes cut at a character boundary.
func cleanHeader(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}
