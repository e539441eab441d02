package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// stderrOf sends os.Stderr (where run's logger writes) to a file for the
// rest of the test and returns what has been written so far. The test
// must not be parallel.
func stderrOf(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = f
	t.Cleanup(func() { os.Stderr = saved; _ = f.Close() })
	return func() string {
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

// count runs a count(*) query with args.
func count(t *testing.T, ctx context.Context, conn *pgx.Conn, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRun_AdminGrantAndRevoke: grant makes an account an admin with a
// role_granted event by the actor cli; revoke takes the role away with
// role_revoked, but never from the last active admin; repeats say so and
// change nothing; unknown addresses and bad usage are errors.
func TestRun_AdminGrantAndRevoke(t *testing.T) {
	ctx, conn := migratedDatabase(t)
	logs := stderrOf(t)
	for _, email := range []string{"ada@example.com", "bob@example.com"} {
		if _, err := conn.Exec(ctx, `INSERT INTO users (email, password_hash, roles) VALUES ($1, 'x', '{support}')`, email); err != nil {
			t.Fatal(err)
		}
	}
	admin := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"admin"}, args...), &out)
		return out.String(), err
	}
	roles := func(email string) string {
		t.Helper()
		var r string
		if err := conn.QueryRow(ctx, `SELECT array_to_string(roles, ',') FROM users WHERE email = $1`, email).Scan(&r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	events := func(email, kind string) int {
		t.Helper()
		return count(t, ctx, conn, `SELECT count(*) FROM security_events JOIN users ON users.id = user_id
			WHERE email = $1 AND kind = $2 AND actor = 'cli' AND request_id LIKE 'authd admin %'`, email, kind)
	}

	if out, err := admin("grant", "ADA@example.com"); err != nil || !strings.HasPrefix(out, "granted admin to ADA@example.com") {
		t.Fatalf("grant: %q, %v", out, err)
	}
	if roles("ada@example.com") != "support,admin" || events("ada@example.com", "role_granted") != 1 {
		t.Errorf("after grant: roles %q, %d role_granted events", roles("ada@example.com"), events("ada@example.com", "role_granted"))
	}
	if out, err := admin("grant", "ada@example.com"); err != nil || out != "ada@example.com is an admin already\n" || events("ada@example.com", "role_granted") != 1 {
		t.Errorf("grant again: %q, %v", out, err)
	}
	if _, err := admin("revoke", "ada@example.com"); err == nil || !strings.Contains(err.Error(), "last active admin") {
		t.Errorf("revoking the last active admin: %v", err)
	}
	if roles("ada@example.com") != "support,admin" || events("ada@example.com", "role_revoked") != 0 {
		t.Errorf("a refused revoke changed the account: roles %q", roles("ada@example.com"))
	}
	if _, err := admin("grant", "bob@example.com"); err != nil {
		t.Fatal(err)
	}
	if out, err := admin("revoke", "ada@example.com"); err != nil || !strings.HasPrefix(out, "revoked admin from ada@example.com") {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	if roles("ada@example.com") != "support" || events("ada@example.com", "role_revoked") != 1 {
		t.Errorf("after revoke: roles %q, %d role_revoked events", roles("ada@example.com"), events("ada@example.com", "role_revoked"))
	}
	if out, err := admin("revoke", "ada@example.com"); err != nil || out != "ada@example.com is not an admin\n" {
		t.Errorf("revoke again: %q, %v", out, err)
	}
	if _, err := admin("grant", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("grant to an unknown address: %v", err)
	}
	for _, args := range [][]string{{}, {"grant"}, {"revoke", ""}, {"promote", "ada@example.com"}, {"grant", "a@example.com", "b@example.com"}} {
		if _, err := admin(args...); err == nil || !strings.Contains(err.Error(), "usage: authd admin") {
			t.Errorf("admin %q: %v, want the usage", args, err)
		}
	}
	log := logs()
	if strings.Count(log, `"msg":"admin role granted"`) != 2 || strings.Count(log, `"msg":"admin role revoked"`) != 1 || !strings.Contains(log, `"actor":"cli"`) {
		t.Errorf("logs:\n%s", log)
	}
}

// TestRun_AdminCredentials: create prints the token and nothing else on
// stdout, stores only the SHA-256 of its secret, and honours --expires;
// list shows every credential's state and no secret; revoke by name or id
// ends a live credential once; bad names, scopes and flags are refused.
func TestRun_AdminCredentials(t *testing.T) {
	ctx, conn := migratedDatabase(t)
	logs := stderrOf(t)
	creds := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		err := run(ctx, append([]string{"admin", "credentials"}, args...), &out)
		return out.String(), err
	}

	before := time.Now()
	out, err := creds("create", "--name", "ci", "--scopes", "users:read,users:write", "--expires", "720h")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^authd_sc_([0-9a-f]{32})_([A-Za-z0-9_-]{43})\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("create printed %q, want the token alone", out)
	}
	secret := m[2]
	var hash []byte
	var expires time.Time
	var scopes string
	if err := conn.QueryRow(ctx, `SELECT secret_hash, expires_at, array_to_string(scopes, ',') FROM service_credentials WHERE name = 'ci' AND replace(id::text, '-', '') = $1`, m[1]).Scan(&hash, &expires, &scopes); err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256([]byte(secret)); !bytes.Equal(hash, want[:]) || scopes != "users:read,users:write" {
		t.Errorf("stored hash %x, scopes %q", hash, scopes)
	}
	if expires.Before(before.Add(720*time.Hour)) || expires.After(time.Now().Add(720*time.Hour)) {
		t.Errorf("expires_at %s, want 720h from the create", expires)
	}
	if _, err := creds("create", "--name", "forever", "--scopes", "users:erase"); err != nil {
		t.Fatal(err)
	}
	if _, err := creds("create", "--name", "gone", "--scopes", "users:read", "--expires", "1ns"); err != nil {
		t.Fatal(err)
	}

	for name, args := range map[string][]string{
		"a taken name":        {"create", "--name", "ci", "--scopes", "users:read"},
		"an unknown scope":    {"create", "--name", "x", "--scopes", "users:read,admin"},
		"no scopes":           {"create", "--name", "x"},
		"no name":             {"create", "--scopes", "users:read"},
		"a negative duration": {"create", "--name", "x", "--scopes", "users:read", "--expires", "-1h"},
		"an unknown flag":     {"create", "--name", "x", "--scopes", "users:read", "--forever"},
		"an argument":         {"create", "--name", "x", "--scopes", "users:read", "extra"},
		"no subcommand":       {},
		"list with argument":  {"list", "ci"},
		"revoke without name": {"revoke"},
	} {
		if out, err := creds(args...); err == nil || out != "" {
			t.Errorf("%s: %q, %v; want an error and nothing printed", name, out, err)
		}
	}
	if n := count(t, ctx, conn, `SELECT count(*) FROM service_credentials`); n != 3 {
		t.Errorf("%d credentials after refused creates, want 3", n)
	}

	list, err := creds("list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NAME") {
		t.Fatalf("list:\n%s", list)
	}
	for name, state := range map[string]string{"ci": "active", "forever": "active", "gone": "expired"} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, name+" ") && strings.HasSuffix(l, state) }) {
			t.Errorf("list has no %s line ending %s:\n%s", name, state, list)
		}
	}
	if strings.Contains(list, secret) || strings.Contains(list, hex.EncodeToString(hash)) {
		t.Errorf("list shows a secret:\n%s", list)
	}

	if out, err := creds("revoke", "ci"); err != nil || !strings.HasPrefix(out, "revoked service credential ci (") {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	if _, err := creds("revoke", "ci"); err == nil || !strings.Contains(err.Error(), "no live service credential") {
		t.Errorf("revoking a revoked credential: %v", err)
	}
	var id string
	if err := conn.QueryRow(ctx, `SELECT id::text FROM service_credentials WHERE name = 'forever'`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if out, err := creds("revoke", id); err != nil || !strings.Contains(out, id) {
		t.Errorf("revoke by id: %q, %v", out, err)
	}
	if n := count(t, ctx, conn, `SELECT count(*) FROM service_credentials WHERE revoked_at IS NOT NULL`); n != 2 {
		t.Errorf("%d revoked credentials, want 2", n)
	}
	if list, _ := creds("list"); strings.Count(list, "revoked") != 2 {
		t.Errorf("list after the revokes:\n%s", list)
	}
	log := logs()
	if strings.Count(log, `"msg":"service credential created`) != 3 || strings.Count(log, `"msg":"service credential revoked"`) != 2 || strings.Contains(log, secret) {
		t.Errorf("logs:\n%s", log)
	}
}
