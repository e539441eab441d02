package main

import (
	"bytes"
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/server/testkit"
)

// newDatabaseURL is a URL on the test server for a database that does not
// exist yet; it is dropped when the test ends.
func newDatabaseURL(t *testing.T, prefix string) string {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = testkit.DefaultTestDatabaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	name := prefix + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "_")
	u.Path = "/" + name
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), base)
		if err == nil {
			_, _ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			_ = conn.Close(context.Background())
		}
	})
	return u.String()
}

// migratedDatabaseURL makes a database of its own, migrated by the CLI and
// set as DATABASE_URL (development settings), for a command's test.
func migratedDatabaseURL(t *testing.T) (context.Context, string) {
	t.Helper()
	ctx := context.Background()
	url, drop, err := testkit.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("AUTHD_ENV", "development")
	if err := run(ctx, []string{"migrate", "up"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	return ctx, url
}

// migratedDatabase is migratedDatabaseURL's database and a connection to it.
func migratedDatabase(t *testing.T) (context.Context, *pgx.Conn) {
	t.Helper()
	ctx, url := migratedDatabaseURL(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(ctx) })
	return ctx, conn
}
