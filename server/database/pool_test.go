package database_test

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

// TestOpen_MissingDatabaseSaysWhichAndHowToCreateIt: a database that does
// not exist is named, with the command that creates it, and no credential.
func TestOpen_MissingDatabaseSaysWhichAndHowToCreateIt(t *testing.T) {
	t.Parallel()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = testkit.DefaultTestDatabaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/authd_test_never_created"
	pool, err := database.Open(context.Background(), u.String(), 2, nil)
	if err == nil {
		pool.Close()
		t.Fatal("Open succeeded on a database that does not exist")
	}
	msg := err.Error()
	for _, want := range []string{`database "authd_test_never_created" does not exist`, "createdb", "CREATE DATABASE", u.Hostname()} {
		if !strings.Contains(msg, want) {
			t.Errorf("the error does not say %q: %s", want, msg)
		}
	}
	if pw, ok := u.User.Password(); ok && strings.Contains(msg, pw) {
		t.Errorf("the error shows the password: %s", msg)
	}
	if strings.Contains(msg, "SQLSTATE") {
		t.Errorf("the driver's raw message: %s", msg)
	}
}

// TestEnsureExists_SaysWhetherItCreated: the caller logs a creation, once.
func TestEnsureExists_SaysWhetherItCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, drop, err := testkit.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	drop() // its name, now free
	created, err := database.EnsureExists(ctx, url)
	t.Cleanup(func() { dropByURL(t, url) })
	if err != nil || !created {
		t.Fatalf("first EnsureExists = %v, %v; want created", created, err)
	}
	if created, err := database.EnsureExists(ctx, url); err != nil || created {
		t.Errorf("second EnsureExists = %v, %v; want it to exist already", created, err)
	}
}

// dropByURL drops the database rawURL names, from the test server's own.
func dropByURL(t *testing.T, rawURL string) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Error(err)
	}
}
