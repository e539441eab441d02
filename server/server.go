// Package server implements the generated strict server interface against the
// generated queries, and assembles the Echo application around it.
package server

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/metrics"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/token"
)

var _ api.StrictServerInterface = (*Server)(nil)

// Migrations is what readiness needs to know about the schema.
type Migrations interface {
	Versions(ctx context.Context) (current, target int64, err error)
}

// Deps are everything a Server needs; cmd/authd and the tests build them.
type Deps struct {
	DB         *database.Resilient
	Migrations Migrations
	Hasher     *password.Hasher
	Tokens     *token.Authority
	Keys       *token.Keys
	Log        *slog.Logger
	Version    string
	SessionTTL time.Duration
	// RefreshRetry is the retry window: how long a just-rotated refresh token
	// may be retried for its successor, while that successor is unused.
	RefreshRetry time.Duration
	// MaxSessionsPerUser caps a user's live sessions: a login beyond it ends
	// the oldest. 0 means 100.
	MaxSessionsPerUser int
	Policy             password.Policy
	Limits             Limits
	Mail               MailOptions
	Metrics            *metrics.Metrics
	// Tracer, when set, traces requests (queries are traced by the pool).
	Tracer trace.TracerProvider
	// AuditRetention is how long security events are kept.
	AuditRetention time.Duration
	HTTP           HTTPOptions
	// Now is the one clock: every time authd writes to or compares in the
	// database is read from it, never from PostgreSQL's now(). time.Now when nil.
	Now func() time.Time
}

// MailOptions configure the account mail flows.
type MailOptions struct {
	Renderer *mail.Renderer
	Sealer   *mail.Sealer // encrypts bodies in the outbox
	// LinkTemplate builds links: {public_url}, {action} and {token} are filled in.
	LinkTemplate string
	PublicURL    string
	// RequireVerified refuses logins until the address is verified and makes
	// registration answer 202 for new and existing addresses alike.
	RequireVerified                bool
	VerifyTTL, ResetTTL, ChangeTTL time.Duration
}

// Limits configures request rate limits and the login backoff.
type Limits struct {
	Enabled bool
	Store   ratelimit.Store
	// Per client IP, and for Login also per client IP and email.
	Register, Login, LoginIP, Refresh ratelimit.Limit
	// FailedLogins caps failures per email from clients unknown to the account.
	FailedLogins ratelimit.Limit
	// Mail-sending endpoints, per client IP and per address; token
	// redemptions per client IP; mails of one kind per recipient.
	MailIP, MailAddress, Token, MailThrottle ratelimit.Limit
	// After BackoffAfter failures for an email from one client, each attempt
	// waits BackoffBase, doubling up to BackoffMax.
	BackoffAfter int
	BackoffBase  time.Duration
	BackoffMax   time.Duration
	// BackoffStore keeps those failure counts; nil means a MemoryBackoff
	// of ratelimit.DefaultBackoffLimit counts.
	BackoffStore ratelimit.Backoff
}

// Server implements api.StrictServerInterface.
type Server struct {
	Deps
	docs
	ready readinessCache
}

// New returns a Server and registers the gauges that read its parts.
func New(d Deps) *Server {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.AuditRetention == 0 {
		d.AuditRetention = 90 * 24 * time.Hour
	}
	if d.MaxSessionsPerUser == 0 {
		d.MaxSessionsPerUser = 100
	}
	if d.Limits.BackoffStore == nil {
		d.Limits.BackoffStore = ratelimit.NewMemoryBackoff(ratelimit.DefaultBackoffLimit)
	}
	if d.Metrics == nil {
		d.Metrics = metrics.New(d.Version)
	}
	s := &Server{Deps: d}
	m := d.Metrics
	m.Gauge("authd_password_hash_in_use", "Password hashes running now (the bulkhead's used slots).", func() float64 { return float64(d.Hasher.InUse()) })
	m.Gauge("authd_password_hash_waiting", "Requests waiting for a hashing slot.", func() float64 { return float64(d.Hasher.Waiting()) })
	m.Gauge("authd_db_circuit_breaker_state", "Database circuit breaker: 0 closed, 1 half-open, 2 open.", func() float64 {
		return map[string]float64{"closed": 0, "half-open": 1, "open": 2}[d.DB.BreakerState()]
	})
	m.RegisterPool(func() metrics.PoolStats { return d.DB.Pool().Stat() })
	d.DB.OnBreakerChange(func(to string) { m.BreakerTransitions.WithLabelValues(to).Inc() })
	d.Hasher.Observe(func(alg string, took time.Duration) { m.HashDuration.WithLabelValues(alg).Observe(took.Seconds()) })
	return s
}

// countRevoked counts the sessions a revoking query ended, by reason, once
// the request has succeeded, and passes its error on:
// err = s.countRevoked(ctx, "logout")(q.RevokeSession(...)).
func (s *Server) countRevoked(ctx context.Context, reason string) func(int64, error) error {
	return func(n int64, err error) error {
		if err == nil && n > 0 {
			countOnSuccess(ctx, func() { s.Metrics.SessionsRevoked.WithLabelValues(reason).Add(float64(n)) })
		}
		return err
	}
}
