package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/testkit"
)

// syncBuffer is a log destination serve's goroutines may share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// line is the first JSON log line whose message is msg, or nil.
func (b *syncBuffer) line(msg string) map[string]any {
	for l := range strings.SplitSeq(b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

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

// serveUntil runs serve with env until the log has a line with msg, then
// stops it; it returns the logs.
func serveUntil(t *testing.T, env map[string]string, msg string) *syncBuffer {
	t.Helper()
	cfg, err := config.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(serverLogHandler(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log) }()
	testkit.WaitUntil(t, 30*time.Second, 20*time.Millisecond, func() bool { return logs.line(msg) != nil },
		func() string { return "no " + msg + " line:\n" + logs.String() })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	return logs
}

// TestServe_ListeningLineNamesKeyDatabaseLimitsAndMail: the line an operator
// reads first says which key signs, which database is used, where limits are
// kept and where mail goes, and no credential.
func TestServe_ListeningLineNamesKeyDatabaseLimitsAndMail(t *testing.T) {
	dbURL := newDatabaseURL(t, "authd_test_startline_")
	redisAddr, smtpAddr := freeAddr(t), freeAddr(t) // nothing listens there
	logs := serveUntil(t, map[string]string{
		"AUTHD_ENV":      "development",
		"DATABASE_URL":   dbURL,
		"AUTHD_ADDR":     freeAddr(t),
		"REDIS_URL":      "redis://:redis-s3cret@" + redisAddr + "/0",
		"AUTHD_SMTP_URL": "smtp://mailer:smtp-s3cret@" + smtpAddr,
	}, "authd listening")
	line := logs.line("authd listening")
	keys := logs.line("keys loaded")
	for field, want := range map[string]any{
		"signing_kid": keys["signing_kid"],
		"database":    databaseForLog(dbURL),
		"rate_limits": "redis " + redisAddr,
		"mail":        "smtp " + smtpAddr,
	} {
		if line[field] != want || want == nil {
			t.Errorf("%s = %v, want %v", field, line[field], want)
		}
	}
	// Development created the database, and said so.
	if created := logs.line("created the database (development only: production expects it to exist)"); created == nil || created["database"] != databaseForLog(dbURL) {
		t.Errorf("no line for the database's creation: %v", created)
	}
	for _, secret := range []string{"s3cret", "mailer"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("the logs show %q", secret)
		}
	}
}

func TestStartupAttrs_MemoryLimitsAndLoggedMail(t *testing.T) {
	t.Parallel()
	attrs := startupAttrs(config.Config{RateLimitEnabled: true, DatabaseURL: "postgres://u:pw@db:5432/authd?password=pw"}, "kid-1")
	got := map[string]any{}
	for i := 0; i < len(attrs); i += 2 {
		got[attrs[i].(string)] = attrs[i+1]
	}
	want := map[string]any{"signing_kid": "kid-1", "database": "postgres://u@db:5432/authd", "rate_limits": "memory (per instance)", "mail": "log (not sent)"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
