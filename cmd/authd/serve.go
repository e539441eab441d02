package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/metrics"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/telemetry"
	"github.com/authd/authd/server/token"
)

func serverLogHandler(h slog.Handler) slog.Handler { return server.ContextLogHandler{Handler: h} }

// serve wires config -> pool -> migrations -> keys -> server -> Echo, serves
// until ctx ends, then drains in-flight requests and closes the pool.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	if cfg.Development() {
		if err := database.EnsureExists(ctx, cfg.DatabaseURL); err != nil {
			return err
		}
	}
	tracer, stopTracing, err := telemetry.Setup(ctx, cfg.TracingEnabled(), version, log)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = stopTracing(sctx) // flush the last spans
	}()
	pool, err := database.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns, tracer) // nil: untraced
	if err != nil {
		return err
	}
	defer pool.Close()
	migrator, err := database.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer func() { _ = migrator.Close() }() // its connections belong to the pool
	if cfg.AutoMigrate {
		n, err := migrator.Up(ctx)
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		log.Info("migrations applied", "count", n)
	}
	keys, err := loadKeys(cfg, log)
	if err != nil {
		return err
	}
	hasher, err := password.NewHasher(password.Params{
		Algorithm: cfg.HashAlgorithm, MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time,
		Threads: cfg.Argon2Threads, BcryptCost: cfg.BcryptCost,
		Concurrency: cfg.HashSlots(), MaxWait: cfg.HashMaxWait,
	})
	if err != nil {
		return err
	}
	limits, err := newLimits(cfg, log)
	if err != nil {
		return err
	}
	renderer, err := mail.NewRenderer(cfg.MailTemplatesDir)
	if err != nil {
		return err
	}
	sealer, err := mail.NewSealer(keys.Secrets(mail.SecretLabel))
	if err != nil {
		return err
	}
	sender, err := newSender(cfg, log)
	if err != nil {
		return err
	}
	m := metrics.New(version)
	srv := server.New(server.Deps{
		Metrics:        m,
		Tracer:         tracer,
		AuditRetention: cfg.AuditRetention,
		DB: database.NewResilient(pool, database.BreakerSettings{
			Failures: cfg.BreakerFailures, OpenFor: cfg.BreakerOpenFor,
			Successes: cfg.BreakerHalfOpenOK, QueryTimeout: cfg.DBQueryTimeout,
		}, log),
		Migrations:         migrator,
		Hasher:             hasher,
		Tokens:             token.NewAuthority(keys, cfg.JWTIssuer, cfg.JWTAudience, cfg.AccessTTL, cfg.JWTLeeway, time.Now),
		Keys:               keys,
		Log:                log,
		Version:            version,
		SessionTTL:         cfg.SessionTTL,
		RefreshRetry:       cfg.RefreshRetryWindow,
		MaxSessionsPerUser: cfg.MaxSessionsPerUser,
		Policy:             password.Policy{Name: cfg.PasswordPolicy},
		Limits:             limits,
		Mail: server.MailOptions{
			Renderer: renderer, Sealer: sealer, LinkTemplate: cfg.MailLinkTemplate, PublicURL: cfg.PublicURL,
			RequireVerified: cfg.RequireVerified,
			VerifyTTL:       cfg.VerifyEmailTTL, ResetTTL: cfg.PasswordResetTTL, ChangeTTL: cfg.EmailChangeTTL,
		},
		HTTP: server.HTTPOptions{CORSOrigins: cfg.CORSOrigins, RequestTimeout: cfg.RequestTimeout, TrustedProxies: cfg.TrustedProxies, ForwardedHeader: cfg.ForwardedHdr,
			PublicMetrics: cfg.PublicMetrics, ReadinessDetails: cfg.Development()},
	})
	handler, err := srv.Handler()
	if err != nil {
		return err
	}
	httpServer := &http.Server{
		Addr:              cfg.Addr,
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 2)
	go func() { errc <- httpServer.ListenAndServe() }()
	if cfg.MetricsAddr != "" {
		metricsServer := &http.Server{Addr: cfg.MetricsAddr, Handler: srv.PrivateHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- metricsServer.ListenAndServe() }()
		defer func() { _ = metricsServer.Close() }()
		log.Info("private listener (metrics, detailed readiness)", "addr", cfg.MetricsAddr)
	}
	go srv.Prune(ctx, 10*time.Minute)
	worker := mail.NewWorker(srv.DB.Queries, sender, mail.WorkerOptions{
		Poll: cfg.MailPollInterval, Lease: 2 * time.Minute, MaxAttempts: cfg.MailMaxAttempts,
		RetryBase: cfg.MailRetryBase, RetryMax: cfg.MailRetryMax, Now: time.Now, Sealer: sealer,
		OnEvent: func(e string) { m.Mail.WithLabelValues(e).Inc() },
	}, log)
	workerDone := make(chan struct{})
	go func() { worker.Run(ctx); close(workerDone) }()
	defer func() { <-workerDone }()
	log.Info("authd listening", "addr", cfg.Addr, "docs", "http://"+displayAddr(cfg.Addr)+"/docs", "env", cfg.Env)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	if err := httpServer.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// newLimits builds the rate limits and the login backoff's counts: in
// memory, or in Redis with memory as the stand-in while Redis is unreachable.
func newLimits(cfg config.Config, log *slog.Logger) (server.Limits, error) {
	var store ratelimit.Store = ratelimit.NewMemory(time.Now)
	var backoff ratelimit.Backoff = ratelimit.NewMemoryBackoff(ratelimit.DefaultBackoffLimit)
	if cfg.RedisURL != "" {
		ratelimit.LogRedisTo(log)
		opts, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return server.Limits{}, fmt.Errorf("REDIS_URL: %w", err)
		}
		client := redis.NewClient(ratelimit.ClientOptions(opts))
		shared := ratelimit.NewRedis(client, "authd:rl:")
		fallback := ratelimit.NewFallback(shared, store, 500*time.Millisecond, 10*time.Second, log)
		fallback.Probe(context.Background()) // an outage is logged at start, not at the first login
		store = fallback
		// The limits' breaker tells the backoff too when Redis is away.
		backoff = ratelimit.NewFallbackBackoff(ratelimit.NewRedisBackoff(client, "authd:bo:"), backoff, fallback.Degraded, 500*time.Millisecond, log)
	}
	return server.Limits{
		Enabled: cfg.RateLimitEnabled, Store: store, BackoffStore: backoff,
		Register: cfg.LimitRegister, Login: cfg.LimitLogin, LoginIP: cfg.LimitLoginIP,
		Refresh: cfg.LimitRefresh, FailedLogins: cfg.LimitFailedLogins,
		MailIP: cfg.LimitMailIP, MailAddress: cfg.LimitMailAddress, Token: cfg.LimitToken, MailThrottle: cfg.MailThrottle,
		BackoffAfter: cfg.LoginBackoffAfter, BackoffBase: cfg.LoginBackoffBase, BackoffMax: cfg.LoginBackoffMax,
	}, nil
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

// loadKeys reads the signing keys; development without a file gets a fresh
// in-memory key (tokens die with the process), production refuses (config).
// It logs which key signs: what a rolling key rotation must agree on.
func loadKeys(cfg config.Config, log *slog.Logger) (*token.Keys, error) {
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

func displayAddr(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	return addr
}
