package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/telemetry"
)

func serverLogHandler(h slog.Handler) slog.Handler { return server.ContextLogHandler{Handler: h} }

// serve opens what the process owns (tracing, the pool, its migrations),
// builds authd from cfg through the composition root (server.Build), serves
// until ctx ends, then drains in-flight requests, stops the background jobs
// and closes the pool.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	log.Info("database", "url", databaseForLog(cfg.DatabaseURL))
	if cfg.Development() {
		created, err := database.EnsureExists(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		if created {
			log.Info("created the database (development only: production expects it to exist)", "database", databaseForLog(cfg.DatabaseURL))
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
	srv, err := server.Build(ctx, cfg, server.Base{Pool: pool, Migrations: migrator, Log: log, Version: version, Tracer: tracer})
	if err != nil {
		return err
	}
	tlsConfig, err := publicTLS(cfg, log)
	if err != nil {
		return err
	}
	httpServer := &http.Server{
		Addr:              cfg.Addr,
		TLSConfig:         tlsConfig,
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       cfg.RequestTimeout,
		WriteTimeout:      cfg.RequestTimeout + 5*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          serverErrorLog(log),
	}
	errc := make(chan error, 2)
	go func() { errc <- listenAndServe(httpServer) }()
	if cfg.MetricsAddr != "" {
		// Plain HTTP even with TLS: a private address no client reaches.
		metricsServer := &http.Server{Addr: cfg.MetricsAddr, Handler: srv.PrivateHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { errc <- metricsServer.ListenAndServe() }()
		defer func() { _ = metricsServer.Close() }()
		log.Info("private listener (metrics, detailed readiness)", "addr", cfg.MetricsAddr)
	}
	jobsDone := make(chan struct{})
	go func() { srv.RunJobs(ctx); close(jobsDone) }()
	defer func() { <-jobsDone }()
	log.Info("authd listening", append([]any{"addr", cfg.Addr, "docs", scheme(cfg) + "://" + displayAddr(cfg.Addr) + "/docs", "env", cfg.Env},
		startupAttrs(cfg, srv.SigningKeyID())...)...)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining in-flight requests", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpServer.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func displayAddr(addr string) string {
	if len(addr) > 0 && addr[0] == ':' {
		return "localhost" + addr
	}
	return addr
}
