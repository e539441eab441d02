package database

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace"
)

// Open connects a pool to url with at most maxConns connections; a tracer
// provider, when given, gets a span for every query.
func Open(ctx context.Context, url string, maxConns int32, tp trace.TracerProvider) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.MaxConns = maxConns
	if tp != nil {
		// Statements, never their arguments, go into spans.
		cfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(tp), otelpgx.WithDisableConnectionDetailsInAttributes())
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := checkExists(ctx, pool, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// existsTimeout bounds the first connection Open makes.
const existsTimeout = 5 * time.Second

// checkExists connects once so that a database that does not exist, a
// mistake that no retry mends, is reported at start, by name and with the
// command that creates it, instead of as the driver's message at the first
// query. Any other failure (PostgreSQL not up yet, say) is left to the
// callers' own retries and checks, as before.
func checkExists(ctx context.Context, pool *pgxpool.Pool, cfg *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, existsTimeout)
	defer cancel()
	var pgErr *pgconn.PgError
	if err := pool.Ping(ctx); !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return nil
	}
	return fmt.Errorf("database %q does not exist on %s:%d (DATABASE_URL): create it, e.g. `createdb -h %s -p %d -U %s %s` "+
		"or, in psql, CREATE DATABASE %s; then start authd again (development creates it itself)",
		cfg.Database, cfg.Host, cfg.Port, cfg.Host, cfg.Port, cfg.User, cfg.Database, pgx.Identifier{cfg.Database}.Sanitize())
}

// EnsureExists creates the database named in url when it does not exist yet,
// connecting to the server's "postgres" database to do so; created says
// whether it did, for the caller to log.
func EnsureExists(ctx context.Context, url string) (created bool, err error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect to create database %q: %w", name, err)
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database
		return false, nil
	}
	return err == nil, err
}
