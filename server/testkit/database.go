// Package testkit gives tests a real PostgreSQL database per test binary and
// a running authd app with a spec-validating client.
package testkit

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server/database"
)

// DefaultTestDatabaseURL is the server tests use unless TEST_DATABASE_URL says otherwise.
const DefaultTestDatabaseURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var shared struct {
	url  string
	pool *pgxpool.Pool
}

// Main creates a fresh database for this test binary, migrates it, runs the
// tests and drops it. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx := context.Background()
	url, drop, err := CreateDatabase(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit:", err)
		return 1
	}
	defer drop()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit:", err)
		return 1
	}
	defer pool.Close()
	mig, err := database.NewMigrator(pool)
	if err == nil {
		_, err = mig.Up(ctx)
		_ = mig.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "testkit: migrate:", err)
		return 1
	}
	shared.url, shared.pool = url, pool
	return m.Run()
}

// Pool is the migrated database of this test binary.
func Pool(t T) *pgxpool.Pool {
	t.Helper()
	if shared.pool == nil {
		t.Fatal("testkit.Main was not called from TestMain")
	}
	return shared.pool
}

// DatabaseURL is the URL of this test binary's database.
func DatabaseURL() string { return shared.url }

// CreateDatabase makes an empty database on the test server and returns its
// URL and a function that drops it.
func CreateDatabase(ctx context.Context) (string, func(), error) {
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = DefaultTestDatabaseURL
	}
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return "", nil, err
	}
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s (is PostgreSQL running? set TEST_DATABASE_URL): %w", cfg.Host, err)
	}
	name := "authd_test_" + binaryName() + "_" + strings.ToLower(rand.Text()[:8])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		_ = admin.Close(ctx)
		return "", nil, err
	}
	drop := func() {
		_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		_ = admin.Close(context.Background())
	}
	return withDatabase(base, name), drop, nil
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9]+`)

func binaryName() string {
	n := strings.TrimSuffix(strings.ToLower(os.Args[0][strings.LastIndex(os.Args[0], "/")+1:]), ".test")
	n = unsafeChars.ReplaceAllString(n, "")
	return n[:min(len(n), 20)]
}

// withDatabase swaps the database name in a postgres:// URL.
func withDatabase(base, name string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	u.Path = "/" + name
	return u.String()
}

// T is the part of testing.TB the kit needs, so that code without a
// *testing.T (an example's TestMain) can drive an app too.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
}
