package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/server/jsonguard"
	"github.com/authd/authd/server/metrics"
)

// MaxBodyBytes is the largest request body authd reads (64 KiB).
const MaxBodyBytes = 64 << 10

var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// requestContext gives each request its id, its shared requestInfo and its
// deadline. The id is always authd's own, so the one stored in the audit
// trail cannot be chosen by a client; a sane X-Request-ID of the client's is
// kept beside it for the logs.
func requestContext(timeout time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			id := rand.Text()
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			info := &requestInfo{id: id, path: c.Request().URL.Path, ip: c.RealIP(), userAgent: cleanHeader(c.Request().UserAgent(), 512)}
			if theirs := c.Request().Header.Get(echo.HeaderXRequestID); saneRequestID.MatchString(theirs) {
				info.clientRequestID = theirs
			}
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

// noStore marks every answer of the operations that deal with accounts
// (tagged auth, users or admin in the spec) Cache-Control: no-store, problems
// included: they carry tokens, addresses, sessions and events that no cache
// on the way may keep.
func noStore(spec *openapi3.T) echo.MiddlewareFunc {
	routes := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "auth") || slices.Contains(op.Tags, "users") || slices.Contains(op.Tags, "admin") {
				routes[method+" "+echoPath(path)] = true
			}
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if routes[c.Request().Method+" "+c.Path()] {
				c.Response().Header().Set("Cache-Control", "no-store")
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
		if req.Method == http.MethodGet || req.Method == http.MethodHead || req.Method == http.MethodOptions {
			// No operation of these methods takes a body: leave it unread,
			// and net/http discards it. DELETE is read: several take a body
			// (the current password).
			return next(c)
		}
		tooLarge := &problemError{typ: typeTooLarge, detail: fmt.Sprintf("The request body must be at most %d bytes.", MaxBodyBytes)}
		if req.ContentLength > MaxBodyBytes {
			return tooLarge
		}
		data, err := io.ReadAll(io.LimitReader(req.Body, MaxBodyBytes+1))
		if isTimeout(err) {
			// The client still had body to send when the request's time
			// (AUTHD_REQUEST_TIMEOUT) ran out: 408, and the connection,
			// its body unread, is closed.
			return &problemError{typ: typeBodyTimeout, detail: "The request body did not arrive within the request timeout.",
				headers: map[string]string{echo.HeaderConnection: "close"}, cause: err}
		}
		if err != nil {
			return &problemError{typ: typeBadRequest, detail: "The request body could not be read.", cause: err}
		}
		if len(data) > MaxBodyBytes {
			return tooLarge
		}
		req.Body = io.NopCloser(bytes.NewReader(data))
		req.ContentLength = int64(len(data))
		if len(data) > 0 && mayReadAsJSON(req.Header.Get(echo.HeaderContentType)) {
			if err := jsonguard.Check(data); err != nil {
				return &problemError{typ: typeBadRequest, detail: "The body is not valid JSON: " + err.Error()}
			}
		}
		return next(c)
	}
}

// isTimeout reports whether a body read failed because a deadline passed:
// the connection's read deadline or the request's.
func isTimeout(err error) bool {
	var netErr net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
}

// mayReadAsJSON reports whether some reader on the way (Echo's binder reads
// any Content-Type that starts with application/json, the validator cuts at
// the first ';') could decode a body of this Content-Type as JSON. It does
// not parse parameters: a header that mime.ParseMediaType refuses must not
// skip the guard.
func mayReadAsJSON(contentType string) bool {
	media, _, _ := strings.Cut(contentType, ";")
	return strings.TrimSpace(media) == "" || strings.Contains(strings.ToLower(media), "json")
}

// cleanHeader makes a header value safe to store and to show: valid UTF-8,
// no control characters and no format characters (bidi overrides and
// zero-width characters, which can make a listed user agent read as
// something else), at most n bytes cut at a character boundary.
func cleanHeader(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
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
