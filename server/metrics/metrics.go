// Package metrics defines authd's Prometheus metrics in one registry per
// process (one per app in tests).
package metrics

import (
	"io"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Metrics holds every metric authd exports.
type Metrics struct {
	Registry *prometheus.Registry

	HTTPRequests *prometheus.CounterVec   // route, method, status
	HTTPDuration *prometheus.HistogramVec // route, method

	Registrations *prometheus.CounterVec // outcome: created, conflict, pending
	// Logins counts logins by outcome: success, mfa_required,
	// bad_credentials, throttled, unverified (password logins) and
	// passkey_success, passkey_refused, passkey_clone_suspected
	// (passwordless logins; their throttled is the same throttled).
	Logins *prometheus.CounterVec
	// FederatedLogins counts logins through an OpenID Connect provider by
	// provider and outcome: success, mfa_required, or why it stopped (the
	// callback's error codes, and invalid_code, unverified and
	// account_disabled at the code exchange).
	FederatedLogins *prometheus.CounterVec
	Refreshes       *prometheus.CounterVec // outcome: rotated, grace_retry, reuse_detected, expired, revoked, unknown, throttled
	Logouts         *prometheus.CounterVec // scope: current, others, all
	// MFA counts second-factor checks: method totp or recovery_code with
	// outcome success, wrong_code, replayed, throttled, challenge_dead;
	// method passkey with outcome success, refused, clone_suspected,
	// throttled, challenge_dead.
	MFA             *prometheus.CounterVec
	StepUps         *prometheus.CounterVec // outcome: success, wrong_password, wrong_code, throttled
	Factors         *prometheus.CounterVec // event: enrolled, activated, removed, codes_regenerated, passkey_added, passkey_removed
	SessionsRevoked *prometheus.CounterVec // reason
	Erasures        *prometheus.CounterVec // by: self, admin, service

	HashDuration *prometheus.HistogramVec // algorithm

	BreakerTransitions *prometheus.CounterVec // to: closed, open, half-open

	Mail *prometheus.CounterVec // event: queued, sent, retried, dead
}

// New registers every metric, the Go runtime and process collectors and
// authd_build_info.
func New(version string) *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{
		Registry: r,
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_http_requests_total", Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authd_http_request_duration_seconds", Help: "HTTP request latency by route template and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		Registrations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_registrations_total", Help: "Registrations by outcome (created, conflict, pending verification).",
		}, []string{"outcome"}),
		Logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_logins_total", Help: "Logins by outcome (success, mfa_required, bad_credentials, throttled, unverified; passwordless: passkey_success, passkey_refused, passkey_clone_suspected); mfa_required is a right password whose login continues at the second factor.",
		}, []string{"outcome"}),
		FederatedLogins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_federated_logins_total", Help: "Logins through an OpenID Connect provider by provider and outcome (success, mfa_required; access_denied, provider_error, invalid_state, issuer_mismatch, exchange_failed, invalid_id_token, email_required, account_exists, signup_disabled, account_disabled, identity_in_use, provider_unavailable at the callback; invalid_code, unverified, account_disabled at the code exchange).",
		}, []string{"provider", "outcome"}),
		Refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_refreshes_total", Help: "Refresh-token presentations by outcome (rotated, grace_retry, reuse_detected, expired, revoked, unknown, throttled).",
		}, []string{"outcome"}),
		Logouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_logouts_total", Help: "Logouts by scope (current, others, all).",
		}, []string{"scope"}),
		MFA: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_mfa_verifications_total", Help: "Second-factor checks at login and step-up, by method (totp, recovery_code, passkey) and outcome (success, wrong_code, replayed, throttled, challenge_dead; a passkey's refused, clone_suspected).",
		}, []string{"method", "outcome"}),
		StepUps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_step_ups_total", Help: "Step-up authentications by outcome (success, wrong_password, wrong_code, throttled).",
		}, []string{"outcome"}),
		Factors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_mfa_factor_changes_total", Help: "Second-factor changes (enrolled, activated, removed, codes_regenerated, passkey_added, passkey_removed).",
		}, []string{"event"}),
		SessionsRevoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_sessions_revoked_total", Help: "Sessions revoked, by reason.",
		}, []string{"reason"}),
		Erasures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_account_erasures_total", Help: "Accounts erased, by who asked (self, admin, service).",
		}, []string{"by"}),
		HashDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "authd_password_hash_duration_seconds", Help: "Time to hash or verify a password, by algorithm, excluding the wait for a slot.",
			Buckets: []float64{.005, .01, .02, .03, .05, .1, .25, .5, 1},
		}, []string{"algorithm"}),
		BreakerTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_db_circuit_breaker_transitions_total", Help: "Database circuit breaker state changes, by new state.",
		}, []string{"to"}),
		Mail: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "authd_mail_total", Help: "Mail outbox events (queued, sent, retried, dead).",
		}, []string{"event"}),
	}
	// Every documented label value exists from the start at 0, so that the
	// first event after a restart is an increase an alert can see.
	for vec, values := range map[*prometheus.CounterVec][]string{
		m.Registrations:      {"created", "conflict", "pending"},
		m.Logins:             {"success", "mfa_required", "bad_credentials", "throttled", "unverified", "passkey_success", "passkey_refused", "passkey_clone_suspected"},
		m.Refreshes:          {"rotated", "grace_retry", "reuse_detected", "expired", "revoked", "unknown", "throttled"},
		m.Logouts:            {"current", "others", "all"},
		m.StepUps:            {"success", "wrong_password", "wrong_code", "throttled"},
		m.Factors:            {"enrolled", "activated", "removed", "codes_regenerated", "passkey_added", "passkey_removed"},
		m.SessionsRevoked:    {"logout", "password_change", "password_reset", "email_change", "account_deleted", "refresh_reuse", "user_revoked", "session_cap", "admin_revoked"},
		m.Erasures:           {"self", "admin", "service"},
		m.BreakerTransitions: {"closed", "open", "half-open"},
		m.Mail:               {"queued", "sent", "retried", "dead"},
	} {
		for _, v := range values {
			vec.WithLabelValues(v)
		}
	}
	for _, method := range []string{"totp", "recovery_code"} {
		for _, outcome := range []string{"success", "wrong_code", "replayed", "throttled", "challenge_dead"} {
			m.MFA.WithLabelValues(method, outcome)
		}
	}
	for _, outcome := range []string{"success", "refused", "clone_suspected", "throttled", "challenge_dead"} {
		m.MFA.WithLabelValues("passkey", outcome)
	}
	for _, c := range []prometheus.Collector{m.HTTPRequests, m.HTTPDuration, m.Registrations, m.Logins, m.FederatedLogins, m.Refreshes,
		m.Logouts, m.MFA, m.StepUps, m.Factors, m.SessionsRevoked, m.Erasures, m.HashDuration, m.BreakerTransitions, m.Mail} {
		f(c)
	}
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "authd_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "goversion"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	f(build)
	return m
}

// Gauge registers a gauge whose value is read from fn at each scrape.
func (m *Metrics) Gauge(name, help string, fn func() float64) {
	m.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, fn))
}

// Write writes every metric in the Prometheus text format.
func (m *Metrics) Write(w io.Writer) error {
	families, err := m.Registry.Gather()
	if err != nil {
		return err
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range families {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return nil
}

// PoolStats is what RegisterPool reads from a pgx pool.
type PoolStats interface {
	AcquiredConns() int32
	IdleConns() int32
	TotalConns() int32
	MaxConns() int32
	AcquireCount() int64
	EmptyAcquireCount() int64
	AcquireDuration() time.Duration
}

// RegisterPool exports the database pool's state, read at each scrape.
func (m *Metrics) RegisterPool(stat func() PoolStats) {
	gauge := func(name, help string, fn func(PoolStats) float64) {
		m.Gauge(name, help, func() float64 { return fn(stat()) })
	}
	counter := func(name, help string, fn func(PoolStats) float64) {
		m.Registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return fn(stat()) }))
	}
	gauge("authd_db_pool_acquired_connections", "Connections in use.", func(s PoolStats) float64 { return float64(s.AcquiredConns()) })
	gauge("authd_db_pool_idle_connections", "Idle connections.", func(s PoolStats) float64 { return float64(s.IdleConns()) })
	gauge("authd_db_pool_connections", "Open connections.", func(s PoolStats) float64 { return float64(s.TotalConns()) })
	gauge("authd_db_pool_max_connections", "The pool's size limit.", func(s PoolStats) float64 { return float64(s.MaxConns()) })
	counter("authd_db_pool_acquires_total", "Connections handed out.", func(s PoolStats) float64 { return float64(s.AcquireCount()) })
	counter("authd_db_pool_waits_total", "Acquires that had to wait for a connection.", func(s PoolStats) float64 { return float64(s.EmptyAcquireCount()) })
	counter("authd_db_pool_acquire_seconds_total", "Time spent acquiring connections.", func(s PoolStats) float64 { return s.AcquireDuration().Seconds() })
}
