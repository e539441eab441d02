package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

func TestRun_KeysGeneratePrintsUsableSet(t *testing.T) {
	for _, alg := range []string{"", "ES256", "RS256"} {
		var out bytes.Buffer
		args := []string{"keys", "generate"}
		if alg != "" {
			args = append(args, alg)
		}
		if err := run(context.Background(), args, &out); err != nil {
			t.Fatal(err)
		}
		if _, err := token.ParseKeys(out.Bytes()); err != nil {
			t.Errorf("%v: printed set does not load: %v", args, err)
		}
	}
}

func TestRun_RejectsUnknownCommands(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"keys"}, {"keys", "generate", "HS256"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: accepted", args)
		}
	}
}

func TestRun_InvalidConfigurationListsEveryProblem(t *testing.T) {
	t.Setenv("AUTHD_ENV", "production")
	t.Setenv("AUTHD_ACCESS_TOKEN_TTL", "never")
	err := run(context.Background(), []string{"serve"}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve started with invalid configuration")
	}
	for _, want := range []string{"AUTHD_JWT_KEYS_FILE", "AUTHD_ACCESS_TOKEN_TTL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

// TestRun_ServeRefusesProductionDefaults: without AUTHD_ENV, authd is in
// production and names everything it lacks at once.
func TestRun_ServeRefusesProductionDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no .env
	t.Setenv("AUTHD_ENV", "")
	os.Unsetenv("AUTHD_ENV")
	// Should it start anyway, a cancelled context stops it at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"serve"}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve started on the defaults, without AUTHD_ENV=development")
	}
	for _, want := range []string{"AUTHD_JWT_KEYS_FILE", "AUTHD_SMTP_URL", "AUTHD_PUBLIC_URL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %s: %v", want, err)
		}
	}
}

func TestRun_BrokenDotEnvIsAnError(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(".env", []byte("AUTHD_ENV=production\nFOO=\"unterminated\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := run(context.Background(), []string{"serve"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), ".env") {
		t.Fatalf("err = %v, want a .env parse error", err)
	}
}

func TestRun_DotEnvIsReadAndEnvironmentWins(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(".env", []byte("AUTHD_ENV=production\nAUTHD_JWT_ISSUER=from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_JWT_ISSUER", "")
	env, err := environ()
	if err != nil {
		t.Fatal(err)
	}
	if env["AUTHD_ENV"] != "production" || env["AUTHD_JWT_ISSUER"] != "" {
		t.Errorf("env = %v %q", env["AUTHD_ENV"], env["AUTHD_JWT_ISSUER"])
	}
}

func TestRun_MailRequeue(t *testing.T) {
	url, drop, err := testkit.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	t.Setenv("AUTHD_ENV", "development")
	t.Setenv("DATABASE_URL", url)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "up"}, &out); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"mail", "requeue"}, &out); err != nil || out.String() != "requeued 0 dead mail(s)\n" {
		t.Errorf("mail requeue: %q, %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"mail", "flush"}, &out); err == nil {
		t.Error("unknown mail command accepted")
	}
}

func TestRun_HealthcheckFollowsReadiness(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readiness" {
			t.Errorf("asked %s", r.URL.Path)
		}
		w.WriteHeader(status)
		fmt.Fprint(w, `{"status":"ready"}`)
	}))
	defer srv.Close()
	if err := run(context.Background(), []string{"healthcheck", srv.URL}, &bytes.Buffer{}); err != nil {
		t.Errorf("ready server: %v", err)
	}
	status = http.StatusServiceUnavailable
	if err := run(context.Background(), []string{"healthcheck", srv.URL}, &bytes.Buffer{}); err == nil {
		t.Error("an unready server passed the healthcheck")
	}
	if err := run(context.Background(), []string{"healthcheck", "http://127.0.0.1:1"}, &bytes.Buffer{}); err == nil {
		t.Error("no server passed the healthcheck")
	}
}

// productionEnv sets a complete production configuration on dbURL.
func productionEnv(t *testing.T, dbURL string) {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(keys, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_ENV", "production")
	t.Setenv("AUTHD_JWT_KEYS_FILE", keys)
	t.Setenv("AUTHD_SMTP_URL", "smtp://mail.example.com:587")
	t.Setenv("AUTHD_PUBLIC_URL", "https://auth.example.com")
	t.Setenv("DATABASE_URL", dbURL)
}

// appliedCount runs `migrate status` and counts the applied migrations.
func appliedCount(t *testing.T) int {
	t.Helper()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "status"}, &out); err != nil {
		t.Fatal(err)
	}
	return strings.Count(out.String(), " applied ")
}

// TestRun_MigrateDownInProductionNeedsTargetAndConfirmation: rolling back
// drops tables (security_events, the audit trail, among them); production
// asks for the target version and an explicit confirmation.
func TestRun_MigrateDownInProductionNeedsTargetAndConfirmation(t *testing.T) {
	url, drop, err := testkit.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	productionEnv(t, url)
	if err := run(context.Background(), []string{"migrate", "up"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	all := appliedCount(t)
	if all < 2 {
		t.Fatalf("%d migrations applied", all)
	}
	for _, args := range [][]string{{}, {"--confirm"}, {"--to", "1"}, {"--to", "-3", "--confirm"}, {"--to", "1", "--confirm", "extra"}} {
		err := run(context.Background(), append([]string{"migrate", "down"}, args...), &bytes.Buffer{})
		if err == nil {
			t.Errorf("migrate down %v in production: accepted", args)
		}
		if got := appliedCount(t); got != all {
			t.Fatalf("migrate down %v in production rolled back to %d of %d", args, got, all)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"migrate", "down", "--to", "1", "--confirm"}, &out); err != nil {
		t.Fatalf("migrate down --to 1 --confirm: %v", err)
	}
	if got := appliedCount(t); got != 1 || !strings.Contains(out.String(), "to version 1") {
		t.Errorf("after down --to 1: %d applied, printed %q", got, out.String())
	}
	if err := run(context.Background(), []string{"migrate", "down", "--to", "1", "--confirm"}, &bytes.Buffer{}); err == nil {
		t.Error("down to the current version: accepted")
	}
}

func TestRun_MigrateDownInDevelopmentRollsBackOne(t *testing.T) {
	url, drop, err := testkit.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	t.Setenv("AUTHD_ENV", "development")
	t.Setenv("DATABASE_URL", url)
	if err := run(context.Background(), []string{"migrate", "up"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	all := appliedCount(t)
	if err := run(context.Background(), []string{"migrate", "down"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if got := appliedCount(t); got != all-1 {
		t.Errorf("after down in development: %d applied, want %d", got, all-1)
	}
}
