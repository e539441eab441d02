package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/testkit"
)

// logLine is the first JSON log line whose message is msg, or nil.
func logLine(logs *testkit.LogBuffer, msg string) map[string]any {
	for l := range strings.SplitSeq(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			return m
		}
	}
	return nil
}

// serveUntil runs serve with env until the log has a line with msg, then
// stops it; it returns the logs.
func serveUntil(t *testing.T, env map[string]string, msg string) *testkit.LogBuffer {
	t.Helper()
	cfg, err := config.Load(env)
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LogBuffer{}
	log := slog.New(serverLogHandler(slog.NewJSONHandler(logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log) }()
	testkit.WaitUntil(t, 30*time.Second, 20*time.Millisecond, func() bool { return logLine(logs, msg) != nil },
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
	line := logLine(logs, "authd listening")
	keys := logLine(logs, "keys loaded")
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
	if created := logLine(logs, "created the database (development only: production expects it to exist)"); created == nil || created["database"] != databaseForLog(dbURL) {
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
