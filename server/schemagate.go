package server

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
)

// schemaRecheck is how often a schema found behind is read again, by the
// requests it refuses and by the jobs waiting for it: one cheap query a
// period, however many requests arrive.
const schemaRecheck = time.Second

// schemaGate remembers whether the schema is current. With
// AUTHD_AUTO_MIGRATE=false authd may start on a database that is behind;
// until someone migrates it, only the probes are served and the jobs wait,
// rather than every query failing on a missing table.
type schemaGate struct {
	current   atomic.Bool // read without the lock by every request once true
	mu        sync.Mutex
	checkedAt time.Time // monotonic: not the Server's clock, which tests stop
	behind    bool      // found behind (and logged) at least once
	unread    bool      // the version could not be read (and that was logged)
}

// schemaCurrent reports whether the schema is current, reading the version
// at most once per schemaRecheck until it is. It logs once when the schema
// is found behind and once when it becomes current. Until a read succeeds
// the gate stays shut: a database without authd's tables at all (no version
// to read) is the most behind there is.
func (s *Server) schemaCurrent(ctx context.Context) bool {
	g := &s.schema
	if g.current.Load() {
		return true
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.current.Load() {
		return true
	}
	if !g.checkedAt.IsZero() && time.Since(g.checkedAt) < schemaRecheck {
		return false
	}
	g.checkedAt = time.Now()
	cur, target, err := s.migrations.Versions(ctx)
	switch {
	case err != nil:
		if !g.unread {
			g.unread = true
			s.log.ErrorContext(ctx, "cannot read the database schema's version: serving only /health and /readiness, background jobs wait; run `authd migrate up` if the database is new",
				"error", err.Error())
		}
		return false
	case cur < target:
		if !g.behind {
			g.behind = true
			s.log.ErrorContext(ctx, "database schema is behind: serving only /health and /readiness, background jobs wait; run `authd migrate up` (or start with AUTHD_AUTO_MIGRATE=true)",
				"version", cur, "target", target)
		}
		return false
	}
	g.current.Store(true)
	if g.behind || g.unread {
		s.log.InfoContext(ctx, "database schema is current: serving", "version", cur)
	}
	return true
}

// waitForSchema blocks until the schema is current (true) or ctx ends (false).
func (s *Server) waitForSchema(ctx context.Context) bool {
	t := time.NewTicker(schemaRecheck)
	defer t.Stop()
	for !s.schemaCurrent(ctx) {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
	return true
}

// probePaths are served whatever the schema: they say why authd is not ready.
var probePaths = map[string]bool{"/health": true, "/readiness": true}

// requireSchema answers 503 to everything but the probes while the schema
// is behind. The answer is written here, not returned as an error, so that
// the error handler does not log a warning for each refused request.
func (s *Server) requireSchema(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		if probePaths[c.Request().URL.Path] || s.schemaCurrent(ctx) {
			return next(c)
		}
		body := problem(ctx, typeUnavailable, "the database schema is behind this version of authd; an operator must migrate it")
		c.Response().Header().Set("Retry-After", "10")
		c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
		if c.Request().Method == http.MethodHead {
			return c.NoContent(body.Status)
		}
		return c.JSON(body.Status, body)
	}
}
