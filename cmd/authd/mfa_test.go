package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestRun_MfaResetRemovesEveryFactorOfOneAccount: the operator's reset
// removes the account's factors, codes and challenges, ends its sessions,
// leaves a factor_removed event and queues the notice to the account's
// address; another account keeps all of its own.
func TestRun_MfaResetRemovesEveryFactorOfOneAccount(t *testing.T) {
	ctx, conn := migratedDatabase(t)
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	for _, email := range []string{"lost@example.com", "other@example.com"} {
		exec(`INSERT INTO users (email, password_hash) VALUES ($1, 'x')`, email)
		exec(`INSERT INTO mfa_factors (user_id, kind, friendly_name, secret_kid, secret_sealed, verified_at, created_at)
			SELECT id, 'totp', 'Phone', 'development', '\x00', now(), now() FROM users WHERE email = $1`, email)
		exec(`INSERT INTO passkeys (user_id, credential_id, public_key, friendly_name, created_at)
			SELECT id, convert_to($1, 'UTF8'), '\x03', 'Laptop', now() FROM users WHERE email = $1`, email)
		exec(`INSERT INTO recovery_codes (user_id, code_hash, created_at) SELECT id, '\x01', now() FROM users WHERE email = $1`, email)
		exec(`INSERT INTO mfa_challenges (token_hash, user_id, password_tag, enrollment, created_at, expires_at)
			SELECT sha256(convert_to($1, 'UTF8')), id, '\x02', false, now(), now() + interval '5 minutes' FROM users WHERE email = $1`, email)
		exec(`INSERT INTO sessions (user_id, expires_at, auth_time) SELECT id, now() + interval '1 day', now() FROM users WHERE email = $1`, email)
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"mfa", "reset", "LOST@example.com"}, &out); err != nil || out.String() != "removed 2 active factor(s) of LOST@example.com, with its recovery codes; its sessions are ended and the address is sent a notice\n" {
		t.Fatalf("mfa reset: %q, %v", out.String(), err)
	}
	count := func(sql, email string) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql, email).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, table := range []string{"mfa_factors", "passkeys", "recovery_codes", "mfa_challenges"} {
		sql := `SELECT count(*) FROM ` + table + ` JOIN users ON users.id = user_id WHERE users.email = $1`
		if n := count(sql, "lost@example.com"); n != 0 {
			t.Errorf("%s: %d rows left for the reset account", table, n)
		}
		if n := count(sql, "other@example.com"); n != 1 {
			t.Errorf("%s: the other account has %d rows, want 1", table, n)
		}
	}
	live := `SELECT count(*) FROM sessions JOIN users ON users.id = user_id WHERE users.email = $1 AND revoked_at IS NULL`
	if count(live, "lost@example.com") != 0 || count(live, "other@example.com") != 1 {
		t.Error("the reset did not end exactly the reset account's sessions")
	}
	if count(`SELECT count(*) FROM security_events JOIN users ON users.id = user_id WHERE users.email = $1 AND kind = 'factor_removed' AND request_id = 'authd mfa reset'`, "lost@example.com") != 1 {
		t.Error("no factor_removed event for the reset")
	}
	if count(`SELECT count(*) FROM mail_outbox WHERE recipient = $1 AND kind = 'mfa_factor_removed'`, "lost@example.com") != 1 ||
		count(`SELECT count(*) FROM mail_outbox WHERE recipient = $1`, "other@example.com") != 0 {
		t.Error("the reset did not queue exactly the notice to the reset account")
	}
	if err := run(ctx, []string{"mfa", "reset", "nobody@example.com"}, &out); err == nil || !strings.Contains(err.Error(), "no account") {
		t.Errorf("reset of an unknown address: %v", err)
	}
	if err := run(ctx, []string{"mfa", "reset"}, &out); err == nil || !strings.Contains(err.Error(), "usage: authd mfa reset EMAIL") {
		t.Errorf("reset without an address: %v", err)
	}
}
