package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/federation"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/metrics"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/token"
)

// Base is what Build is handed rather than makes: what its caller opens and
// closes (the pool, its migrator, the tracer) and the process's logger,
// version and clock.
type Base struct {
	Pool       *pgxpool.Pool
	Migrations Migrations
	Log        *slog.Logger
	Version    string
	Tracer     trace.TracerProvider // nil: requests are not traced
	Now        func() time.Time     // nil: time.Now
}

// Option swaps parts Build made before the Server is assembled from them.
type Option func(*Deps)

// Build is authd's composition root, the one place where configuration
// becomes dependencies: cmd/authd, the test kit and, through cmd/authd, the
// benchmark all start authd here. It reads the key file and the mail
// templates and, with REDIS_URL, probes Redis; it reads no environment.
func Build(ctx context.Context, cfg config.Config, base Base, opts ...Option) (*Server, error) {
	d, err := depsFrom(ctx, cfg, base)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		o(&d)
	}
	return newServer(d)
}

// mailLease is how long a worker's claim on a message lasts; a send gets
// half of it.
const mailLease = 2 * time.Minute

// pruneEvery is how often stale rows are deleted.
const pruneEvery = 10 * time.Minute

func depsFrom(ctx context.Context, cfg config.Config, base Base) (Deps, error) {
	now, log := base.Now, base.Log
	if now == nil {
		now = time.Now
	}
	keys, err := LoadKeys(cfg, log)
	if err != nil {
		return Deps{}, err
	}
	dataKeys, err := LoadDataKeys(cfg, log)
	if err != nil {
		return Deps{}, err
	}
	hasher, err := password.NewHasher(password.Params{
		Algorithm: cfg.PasswordHash, MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time,
		Threads: cfg.Argon2Threads, BcryptCost: cfg.BcryptCost,
		Concurrency: cfg.HashSlots(), MaxWait: cfg.HashMaxWait,
	})
	if err != nil {
		return Deps{}, err
	}
	limits, err := newLimits(ctx, cfg, now, log)
	if err != nil {
		return Deps{}, err
	}
	passkeys, err := NewWebAuthn(cfg)
	if err != nil {
		return Deps{}, err
	}
	if !cfg.Development() && cfg.WebAuthnRPID == "localhost" {
		log.Warn("AUTHD_WEBAUTHN_RP_ID is localhost: passkeys work only on pages served from localhost; set it and AUTHD_WEBAUTHN_ORIGINS to your site's domain")
	}
	renderer, err := mail.NewRenderer(cfg.MailTemplatesDir)
	if err != nil {
		return Deps{}, err
	}
	sender, err := newSender(cfg, log)
	if err != nil {
		return Deps{}, err
	}
	relay, err := relayCheck(ctx, cfg.SMTPURL, log)
	if err != nil {
		return Deps{}, err
	}
	return Deps{
		DB:           GuardDatabase(cfg, base.Pool, log),
		Migrations:   base.Migrations,
		SchemaMayLag: !cfg.AutoMigrate,
		Hasher:       hasher,
		Keys:         keys,
		DataKeys:     dataKeys,
		Token: TokenOptions{
			Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, AccessTTL: cfg.AccessTokenTTL, Leeway: cfg.JWTLeeway,
		},
		Log:                log,
		Version:            base.Version,
		SessionTTL:         cfg.SessionTTL,
		RefreshRetry:       cfg.RefreshRetryWindow,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		Policy:             password.Policy{Name: cfg.PasswordPolicy},
		Limits:             limits,
		MFA: MFAOptions{
			Require: cfg.RequireMFA, StepUpMaxAge: cfg.StepUpMaxAge, ChallengeTTL: cfg.MFAChallengeTTL,
			Issuer: cfg.TOTPIssuer, AccountLabel: cfg.TOTPAccountLabel,
		},
		Admin:    AdminOptions{RequireMFA: cfg.AdminRequireMFA, Roles: cfg.Roles, InviteTTL: cfg.InviteTTL},
		WebAuthn: passkeys,
		OIDC: OIDCOptions{
			Providers: NewProviders(cfg, federation.Options{Log: log, Now: now}), RedirectURLs: cfg.RedirectURLs, Signup: cfg.OIDCSignup,
		},
		Mail: MailOptions{
			Renderer: renderer, LinkTemplate: cfg.MailLinkTemplate, PublicURL: cfg.PublicURL,
			RequireVerified: cfg.RequireVerifiedEmail, RelayCheck: relay,
			VerifyTTL: cfg.VerifyEmailTTL, ResetTTL: cfg.PasswordResetTTL, ChangeTTL: cfg.EmailChangeTTL,
		},
		Metrics:        metrics.New(base.Version),
		Tracer:         base.Tracer,
		AuditRetention: cfg.AuditRetention,
		HTTP: HTTPOptions{
			CORSOrigins: cfg.CORSOrigins, RequestTimeout: cfg.RequestTimeout,
			TrustedProxies: cfg.TrustedProxies, ForwardedHeader: cfg.ForwardedHeader,
			PublicMetrics: cfg.PublicMetrics, ReadinessDetails: cfg.Development(), Pprof: cfg.Pprof,
			DevLinkPages: cfg.Development(), ExampleDir: exampleDir(cfg),
		},
		Jobs: JobOptions{
			PruneEvery: pruneEvery,
			Sender:     sender,
			Delivery: mail.WorkerOptions{
				Poll: cfg.MailPollInterval, Lease: mailLease, MaxAttempts: cfg.MailMaxAttempts,
				RetryBase: cfg.MailRetryBase, RetryMax: cfg.MailRetryMax,
			},
		},
		Now: now,
	}, nil
}

// GuardDatabase puts pool behind the circuit breaker and the query timeout
// cfg asks for.
func GuardDatabase(cfg config.Config, pool *pgxpool.Pool, log *slog.Logger) *database.Resilient {
	return database.NewResilient(pool, database.BreakerSettings{
		Failures: cfg.BreakerFailures, OpenFor: cfg.BreakerOpenFor,
		Successes: cfg.BreakerSuccesses, QueryTimeout: cfg.DBQueryTimeout,
	}, log)
}

// newSender is SMTP when configured; in development without SMTP, mail goes
// to the log so every flow can be followed (production requires SMTP).
func newSender(cfg config.Config, log *slog.Logger) (mail.Sender, error) {
	if cfg.SMTPURL == "" {
		log.Warn("no AUTHD_SMTP_URL: mail, links included, is written to the log instead of sent")
		return mail.NewLog(log), nil
	}
	return mail.NewSMTP(cfg.SMTPURL, cfg.MailFrom, 30*time.Second)
}

// LoadKeys reads the signing keys; development without a file gets a fresh
// in-memory key (tokens die with the process), production refuses (config).
// It logs which key signs: what a rolling key rotation must agree on.
func LoadKeys(cfg config.Config, log *slog.Logger) (*token.Keys, error) {
	var data []byte
	var err error
	if cfg.JWTKeysFile != "" {
		if data, err = os.ReadFile(cfg.JWTKeysFile); err != nil {
			return nil, fmt.Errorf("read AUTHD_JWT_KEYS_FILE: %w", err)
		}
	} else {
		log.Warn("no AUTHD_JWT_KEYS_FILE: generated an in-memory signing key; tokens will not survive a restart")
		if data, err = token.GenerateSet(cfg.JWTAlgorithm); err != nil {
			return nil, err
		}
	}
	keys, err := token.ParseKeys(data)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_JWT_KEYS_FILE: %w", err)
	}
	log.Info("keys loaded", "signing_kid", keys.Signer(), "keys", keys.List())
	return keys, nil
}

// LoadDataKeys reads the data-encryption keys that seal TOTP secrets;
// development without a file gets the fixed, public development key, so that
// `make run` opens its secrets after a restart; production refuses (config).
// It logs which key seals: what every instance must agree on before a rewrap.
func LoadDataKeys(cfg config.Config, log *slog.Logger) (*datakeys.Ring, error) {
	if cfg.DataKeysFile == "" {
		if !cfg.Development() {
			return nil, fmt.Errorf("AUTHD_DATA_KEYS_FILE: is required in production (generate one with `authd datakeys generate`)")
		}
		log.Warn("no AUTHD_DATA_KEYS_FILE: TOTP secrets are sealed with the fixed development key, which is not secret")
		return datakeys.Development(), nil
	}
	data, err := os.ReadFile(cfg.DataKeysFile)
	if err != nil {
		return nil, fmt.Errorf("read AUTHD_DATA_KEYS_FILE: %w", err)
	}
	ring, err := datakeys.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_DATA_KEYS_FILE: %w", err)
	}
	log.Info("data keys loaded", "primary_kid", ring.Primary(), "kids", ring.Kids())
	return ring, nil
}
