package server_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// These tests order concurrent requests with row locks: a transaction of
// the test holds a row, requests queue behind it (seen in pg_stat_activity),
// and the commit releases them. They do not run in parallel with other
// tests, whose lock waits would count too.

// holdRow begins a transaction holding the row that query selects FOR UPDATE.
func holdRow(t *testing.T, app *testkit.App, query string, arg any) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx := testkit.Must(app.Deps.DB.Pool().Begin(ctx))(t)
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	if _, err := tx.Exec(ctx, query, arg); err != nil {
		t.Fatal(err)
	}
	return tx
}

// waitForLockWaiters waits until n backends of the test database wait for a lock.
func waitForLockWaiters(t *testing.T, app *testkit.App, n int) {
	t.Helper()
	waiting := func() int {
		var got int
		err := app.Deps.DB.Pool().QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&got)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	testkit.WaitUntil(t, 10*time.Second, 5*time.Millisecond, func() bool { return waiting() >= n },
		func() string { return fmt.Sprintf("%d requests wait for a lock, want %d", waiting(), n) })
}

// A password change that commits while a login's second step waits for the
// user row voids the challenge: 401, never a 500.
func TestFactorRace_PasswordChangeDuringTheSecondStep(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, secret, _ := mfaUser(t, app)
	ch := mfaChallenge(t, app, u.Email)
	tx := holdRow(t, app, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", u.Id)
	answer := make(chan *client.VerifyMfaResponse, 1)
	go func() {
		r, err := app.Client.VerifyMfaWithResponse(ctx, client.MfaVerifyRequest{MfaToken: ch.MfaToken, Code: ptr(app.TOTP(t, secret, 0))})
		if err != nil {
			t.Error(err)
		}
		answer <- r
	}()
	waitForLockWaiters(t, app, 1)
	if _, err := tx.Exec(ctx, "UPDATE users SET password_hash = password_hash || 'x' WHERE id = $1", u.Id); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "second step racing a password change", <-answer, http.StatusUnauthorized, "invalid-mfa-token")
}

// A refresh and a step-up of one session take its refresh token and the
// session in the same order: they wait for each other, never deadlock
// (a 503 the client would retry into reuse detection).
func TestFactorRace_RefreshAndStepUpOfOneSession(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, secret, _ := mfaUser(t, app)
	pair := verifyCode(t, app, mfaChallenge(t, app, u.Email).MfaToken, app.TOTP(t, secret, 0)).JSON200
	app.Clock.Advance(30 * time.Second) // a fresh code for the step-up
	code := app.TOTP(t, secret, 0)
	tx := holdRow(t, app, "SELECT 1 FROM refresh_tokens WHERE token_hash = $1 FOR UPDATE", token.HashOpaque(pair.RefreshToken))
	refreshed := make(chan int, 1)
	go func() {
		r, err := app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken})
		if err != nil {
			t.Error(err)
		}
		refreshed <- r.StatusCode()
	}()
	waitForLockWaiters(t, app, 1)
	stepped := make(chan int, 1)
	go func() {
		r, err := app.Client.StepUpWithResponse(ctx, client.StepUpRequest{Code: &code}, testkit.Bearer(pair.AccessToken))
		if err != nil {
			t.Error(err)
		}
		stepped <- r.StatusCode()
	}()
	waitForLockWaiters(t, app, 2)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r, s := <-refreshed, <-stepped
	if s != http.StatusOK || (r != http.StatusOK && r != http.StatusUnauthorized) {
		t.Errorf("refresh answered %d and step-up %d; want the step-up 200 and no 5xx", r, s)
	}
}

// `authd mfa reset` and a login's second step take the challenge, the user
// and the factors in one order: the reset waits, then ends the session the
// login started.
func TestFactorRace_ResetDuringTheSecondStep(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, secret, _ := mfaUser(t, app)
	ch := mfaChallenge(t, app, u.Email)
	tx := holdRow(t, app, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", u.Id)
	verified := make(chan *client.VerifyMfaResponse, 1)
	go func() {
		r, err := app.Client.VerifyMfaWithResponse(ctx, client.MfaVerifyRequest{MfaToken: ch.MfaToken, Code: ptr(app.TOTP(t, secret, 0))})
		if err != nil {
			t.Error(err)
		}
		verified <- r
	}()
	waitForLockWaiters(t, app, 1) // the second step holds the challenge, waits for the user
	reset := make(chan error, 1)
	go func() {
		_, err := app.Server.ResetFactors(ctx, u.Email)
		reset <- err
	}()
	waitForLockWaiters(t, app, 2) // the reset waits for the challenge
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	v := <-verified
	if err := <-reset; err != nil {
		t.Fatalf("reset: %v", err)
	}
	wantStatus(t, "second step before the reset", v, http.StatusOK, "")
	if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(v.JSON200.AccessToken)))(t); me.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the session the reset ended still answers %d", me.StatusCode())
	}
	if f := listFactors(t, app, app.Login(t, u.Email, testkit.Password).AccessToken); len(f.Factors) != 0 || f.RecoveryCodesRemaining != 0 {
		t.Errorf("after the reset: %+v", f)
	}
}
