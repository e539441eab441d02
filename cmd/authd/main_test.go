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
	"time"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

func TestRun_KeysGenerateWritesAFileOnlyItsOwnerReads(t *testing.T) {
	dir := t.TempDir()
	for _, alg := range []string{"", "ES256", "RS256"} {
		path := filepath.Join(dir, "keys-"+alg+".json")
		args := []string{"keys", "generate", "-file", path}
		if alg != "" {
			args = append(args, alg)
		}
		if err := run(context.Background(), args, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		data := readPrivate(t, path)
		if _, err := token.ParseKeys(data); err != nil {
			t.Errorf("%v: written set does not load: %v", args, err)
		}
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: overwrote an existing key file", args)
		}
	}
	t.Setenv("AUTHD_JWT_KEYS_FILE", filepath.Join(dir, "from-env.json"))
	if err := run(context.Background(), []string{"keys", "generate"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	readPrivate(t, filepath.Join(dir, "from-env.json"))
}

// readPrivate reads a key file and fails the test unless its mode is 0600.
func readPrivate(t *testing.T, path string) []byte {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", path, info.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestRun_KeysRotationStepsEditTheFile(t *testing.T) {
	ctx, url := migratedDatabaseURL(t) // migrate needs a whole config; keys does not
	path := filepath.Join(t.TempDir(), "keys.json")
	t.Setenv("AUTHD_JWT_KEYS_FILE", path)
	keys := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(ctx, append([]string{"keys"}, args...), &out); err != nil {
			t.Fatalf("keys %v: %v", args, err)
		}
		return out.String()
	}
	keys("generate")
	oldKid := loadFile(t, path).Signer()
	if err := os.Chmod(path, 0o644); err != nil { // as a hand-made file might be
		t.Fatal(err)
	}
	// Mail queued before the rotation, still pending when the old key retires.
	before := testkit.Must(mail.NewSealer(loadFile(t, path).Secrets(mail.SecretLabel)))(t)
	queueMail(t, url, before.Seal("queued before the rotation"))

	added := keys("add")
	newKid := loadFile(t, path).List()[1].Kid
	if !strings.Contains(added, "authd keys promote "+newKid) {
		t.Errorf("add does not tell the next step: %s", added)
	}
	readPrivate(t, path)
	keys("promote", newKid)
	keys("retire", oldKid)
	if got := keys("list"); !strings.Contains(got, newKid) || !strings.Contains(got, "signing") || !strings.Contains(got, "retired") {
		t.Errorf("list after retiring:\n%s", got)
	}
	err := run(ctx, []string{"keys", "remove", oldKid}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "1 mail(s)") {
		t.Errorf("remove while mail sealed with the key waits: %v, want a refusal that counts it", err)
	}
	keys("remove", "-force", oldKid)
	readPrivate(t, path)
	if list := loadFile(t, path).List(); len(list) != 1 || list[0].Kid != newKid || list[0].Status != token.StatusSigning {
		t.Errorf("after the rotation: %+v", list)
	}
}

func loadFile(t *testing.T, path string) *token.Keys {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := token.ParseKeys(data)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func queueMail(t *testing.T, url, body string) {
	t.Helper()
	pool, err := database.Open(context.Background(), url, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = db.New(pool).EnqueueMail(context.Background(), db.EnqueueMailParams{Kind: "password_reset", Recipient: "a@example.com", Subject: "s", TextBody: &body, HtmlBody: &body, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
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
	if err := os.Unsetenv("AUTHD_ENV"); err != nil {
		t.Fatal(err)
	}
	// Should it start anyway, a cancelled context stops it at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"serve"}, &bytes.Buffer{})
	if err == nil {
		t.Fatal("serve started on the defaults, without AUTHD_ENV=development")
	}
	for _, want := range []string{"AUTHD_JWT_KEYS_FILE", "AUTHD_DATA_KEYS_FILE", "AUTHD_SMTP_URL", "AUTHD_PUBLIC_URL"} {
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
		_, _ = fmt.Fprint(w, `{"status":"ready"}`)
	}))
	defer srv.Close()
	for _, given := range []string{srv.URL, srv.URL + "/", srv.URL + "/readiness", srv.URL + "/readiness/"} {
		if err := run(context.Background(), []string{"healthcheck", given}, &bytes.Buffer{}); err != nil {
			t.Errorf("ready server at %s: %v", given, err)
		}
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
	set, err := token.GenerateSet("EdDSA") // config reads the file now
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keys, set, 0o600); err != nil {
		t.Fatal(err)
	}
	dataKeys := filepath.Join(t.TempDir(), "datakeys.json")
	if err := run(context.Background(), []string{"datakeys", "generate", "-file", dataKeys}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_ENV", "production")
	t.Setenv("AUTHD_JWT_KEYS_FILE", keys)
	t.Setenv("AUTHD_DATA_KEYS_FILE", dataKeys)
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
