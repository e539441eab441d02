// Package server implements the generated strict server interface against the
// generated queries, and assembles the Echo application around it.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/federation"
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

// Deps are the parts a Server is assembled from. Build makes every one of
// them from the configuration; an Option may swap one before the assembly
// (the tests do).
type Deps struct {
	DB         *database.Resilient
	Migrations Migrations
	// SchemaMayLag is set when authd does not migrate at start
	// (AUTHD_AUTO_MIGRATE=false): until the schema is current, only the
	// probes are served and the jobs wait.
	SchemaMayLag bool
	Hasher       *password.Hasher
	// Keys sign and verify tokens and seal mail bodies: the token authority
	// and the mail sealer are made from them.
	Keys *token.Keys
	// DataKeys seal second-factor secrets at rest (AUTHD_DATA_KEYS_FILE).
	DataKeys   *datakeys.Ring
	Token      TokenOptions
	Log        *slog.Logger
	Version    string
	SessionTTL time.Duration
	// RefreshRetry is the retry window: how long a just-rotated refresh token
	// may be retried for its successor, while that successor is unused.
	RefreshRetry time.Duration
	// MaxSessionsPerUser caps a user's live sessions: a login beyond it ends
	// the oldest.
	MaxSessionsPerUser int
	Policy             password.Policy
	Limits             Limits
	Mail               MailOptions
	MFA                MFAOptions
	// Admin is who may use the admin API, and the roles users can hold.
	Admin AdminOptions
	// WebAuthn runs the passkey ceremonies for the configured relying party.
	WebAuthn *webauthn.WebAuthn
	// OIDC is federated login: the providers and where logins return to.
	OIDC    OIDCOptions
	Metrics *metrics.Metrics
	// Tracer, when set, traces requests (queries are traced by the pool).
	Tracer trace.TracerProvider
	// AuditRetention is how long security events are kept.
	AuditRetention time.Duration
	HTTP           HTTPOptions
	Jobs           JobOptions
	// Now is the one clock: every time authd writes to or compares in the
	// database is read from it, never from PostgreSQL's now().
	Now func() time.Time
}

// TokenOptions are the claims and lifetimes of the access tokens.
type TokenOptions struct {
	Issuer, Audience string
	AccessTTL        time.Duration
	Leeway           time.Duration // clock skew allowed when verifying
}

// AdminOptions configures the admin API. RequireMFA refuses an admin
// whose token lacks aal 2; Roles are the roles besides admin a user can be
// given; InviteTTL is how long an invitation's set-password link works.
type AdminOptions struct {
	RequireMFA bool
	Roles      []string
	InviteTTL  time.Duration
}

// MFAOptions configure second factors and step-up.
type MFAOptions struct {
	// Require makes a login to an account without a factor enrol one first.
	Require bool
	// StepUpMaxAge is how recent an authentication sensitive operations need.
	StepUpMaxAge time.Duration
	// ChallengeTTL is how long a login's second step (mfa_token) lives.
	ChallengeTTL time.Duration
	// Issuer and AccountLabel name the account in authenticator apps;
	// {email} in AccountLabel is the account's address.
	Issuer, AccountLabel string
}

// MailOptions configure the account mail flows.
type MailOptions struct {
	Renderer *mail.Renderer
	// LinkTemplate builds links: {public_url}, {action} and {token} are filled in.
	LinkTemplate string
	PublicURL    string
	// RequireVerified refuses logins until the address is verified and makes
	// registration answer 202 for new and existing addresses alike.
	RequireVerified bool
	// RelayCheck probes the SMTP relay for readiness (degraded, not failing,
	// when it does not answer); nil when mail goes to the log.
	RelayCheck                     func(context.Context) error
	VerifyTTL, ResetTTL, ChangeTTL time.Duration
}

// JobOptions configure the background work RunJobs does.
type JobOptions struct {
	PruneEvery time.Duration
	// Sender delivers the outbox, tuned by Delivery; the worker's clock,
	// sealer and event hook are the Server's (see MailWorker).
	Sender   mail.Sender
	Delivery mail.WorkerOptions
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
	// BackoffStore keeps those failure counts.
	BackoffStore ratelimit.Backoff
}

// Server implements api.StrictServerInterface. Its parts are its own: what
// runs beside the handlers (the jobs, the private listener) is asked of it
// through its methods.
type Server struct {
	db                 *database.Resilient
	migrations         Migrations
	hasher             *password.Hasher
	keys               *token.Keys
	dataKeys           *datakeys.Ring
	tokens             *token.Authority
	sealer             *mail.Sealer // encrypts bodies in the outbox
	log                *slog.Logger
	version            string
	sessionTTL         time.Duration
	refreshRetry       time.Duration
	maxSessionsPerUser int
	policy             password.Policy
	limits             Limits
	mail               MailOptions
	mfa                MFAOptions
	admin              AdminOptions
	webauthn           *webauthn.WebAuthn
	oidc               OIDCOptions
	metrics            *metrics.Metrics
	tracer             trace.TracerProvider
	auditRetention     time.Duration
	http               HTTPOptions
	jobs               JobOptions
	now                func() time.Time

	docs
	ready   readinessCache
	schema  schemaGate
	handler http.Handler // the public application, built once
	private http.Handler // the private listener's
}

// newServer assembles a Server from its parts: the token authority and the
// mail sealer from the keys, the documents and the handlers from the spec,
// and the gauges that read the parts. It does no I/O of its own.
func newServer(d Deps) (*Server, error) {
	sealer, err := mail.NewSealer(d.Keys.Secrets(mail.SecretLabel))
	if err != nil {
		return nil, err
	}
	s := &Server{
		db: d.DB, migrations: d.Migrations, hasher: d.Hasher, keys: d.Keys, dataKeys: d.DataKeys, sealer: sealer, mfa: d.MFA, admin: d.Admin, webauthn: d.WebAuthn, oidc: d.OIDC,
		tokens: token.NewAuthority(d.Keys, d.Token.Issuer, d.Token.Audience, d.Token.AccessTTL, d.Token.Leeway, d.Now),
		log:    d.Log, version: d.Version, sessionTTL: d.SessionTTL, refreshRetry: d.RefreshRetry,
		maxSessionsPerUser: d.MaxSessionsPerUser, policy: d.Policy, limits: d.Limits, mail: d.Mail,
		metrics: d.Metrics, tracer: d.Tracer, auditRetention: d.AuditRetention, http: d.HTTP, jobs: d.Jobs, now: d.Now,
	}
	s.schema.current.Store(!d.SchemaMayLag)
	if s.oidc.Providers == nil {
		s.oidc.Providers = federation.New(nil, federation.Options{})
	}
	s.registerGauges()
	s.registerFederatedOutcomes()
	if err := s.buildHandlers(); err != nil {
		return nil, err
	}
	return s, nil
}

// registerGauges registers the gauges that read the Server's parts.
func (s *Server) registerGauges() {
	m := s.metrics
	m.Gauge("authd_password_hash_in_use", "Password hashes running now (the bulkhead's used slots).", func() float64 { return float64(s.hasher.InUse()) })
	m.Gauge("authd_password_hash_waiting", "Requests waiting for a hashing slot.", func() float64 { return float64(s.hasher.Waiting()) })
	m.Gauge("authd_db_circuit_breaker_state", "Database circuit breaker: 0 closed, 1 half-open, 2 open.", func() float64 {
		return map[string]float64{"closed": 0, "half-open": 1, "open": 2}[s.db.BreakerState()]
	})
	m.RegisterPool(func() metrics.PoolStats { return s.db.Pool().Stat() })
	s.db.OnBreakerChange(func(to string) { m.BreakerTransitions.WithLabelValues(to).Inc() })
	s.hasher.Observe(func(alg string, took time.Duration) { m.HashDuration.WithLabelValues(alg).Observe(took.Seconds()) })
}

// countRevoked counts the sessions a revoking query ended, by reason, once
// the request has succeeded, and passes its error on:
// err = s.countRevoked(ctx, "logout")(q.RevokeSession(...)).
func (s *Server) countRevoked(ctx context.Context, reason string) func(int64, error) error {
	return func(n int64, err error) error {
		if err == nil && n > 0 {
			countOnSuccess(ctx, func() { s.metrics.SessionsRevoked.WithLabelValues(reason).Add(float64(n)) })
		}
		return err
	}
}
