package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// appClockLead puts the app's clock two days ahead of PostgreSQL's now(), so
// a time taken from the wrong clock cannot pass for the right one.
const appClockLead = 48 * time.Hour

// timesOf reads the (label, time) rows of query, leaving out NULL times.
func timesOf(t *testing.T, app *testkit.App, query string, args ...any) map[string][]time.Time {
	t.Helper()
	rows, err := app.Deps.DB.Pool().Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string][]time.Time{}
	for rows.Next() {
		var label string
		var at *time.Time
		if err := rows.Scan(&label, &at); err != nil {
			t.Fatal(err)
		}
		if at != nil {
			got[label] = append(got[label], *at)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// requireAppTimes fails the test unless query returns each of the labels
// want, and every time it returns was read from app's clock between since
// and now (PostgreSQL keeps microseconds).
func requireAppTimes(t *testing.T, app *testkit.App, since time.Time, want []string, query string, args ...any) {
	t.Helper()
	from, until := since.Truncate(time.Microsecond), app.Clock.Now()
	got := timesOf(t, app, query, args...)
	for _, label := range want {
		if len(got[label]) == 0 {
			t.Errorf("%s: no time written", label)
		}
	}
	for label, times := range got {
		for _, at := range times {
			if at.Before(from) || at.After(until) {
				t.Errorf("%s = %s, not from the app's clock (between %s and %s)", label, at.UTC(), from.UTC(), until.UTC())
			}
		}
	}
}

// The sweep: every timestamp of a user's rows, labelled by column.
const userTimes = `
SELECT v.* FROM users, LATERAL (VALUES
    ('users.created_at', created_at), ('users.updated_at', updated_at), ('users.email_verified_at', email_verified_at)) v
WHERE id = $1
UNION ALL SELECT v.* FROM sessions, LATERAL (VALUES
    ('sessions.created_at', created_at), ('sessions.last_used_at', last_used_at), ('sessions.revoked_at', revoked_at)) v
WHERE user_id = $1
UNION ALL SELECT v.* FROM refresh_tokens r JOIN sessions s ON s.id = r.session_id, LATERAL (VALUES
    ('refresh_tokens.created_at', r.created_at), ('refresh_tokens.rotated_at', r.rotated_at)) v
WHERE s.user_id = $1
UNION ALL SELECT 'account_tokens.created_at', created_at FROM account_tokens WHERE user_id = $1
UNION ALL SELECT 'security_events.created_at', created_at FROM security_events WHERE user_id = $1
UNION ALL SELECT v.* FROM mail_outbox, LATERAL (VALUES
    ('mail_outbox.created_at', created_at), ('mail_outbox.next_attempt_at', next_attempt_at), ('mail_outbox.sent_at', sent_at)) v
WHERE recipient = $2`

// Every time authd writes comes from the app's clock, never from
// PostgreSQL's now(): with the two clocks apart, each write of a user's life
// (registration, verification, login, refresh, password change, session
// revocation, logout, a reset request, deletion, sent mail) stores the
// app's time.
func TestClock_EveryWrittenTimeIsTheAppClocks(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	app.Clock.Advance(appClockLead)
	ctx := context.Background()
	start := app.Clock.Now()
	email := testkit.UniqueEmail()

	if r, err := app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password}); err != nil || r.JSON202 == nil {
		t.Fatalf("register: %v %v", err, r)
	}
	requireAppTimes(t, app, start, []string{"pending_registrations.created_at"},
		`SELECT 'pending_registrations.created_at', created_at FROM pending_registrations WHERE email = $1`, email)
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)

	since := app.Clock.Now()
	verified, err := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: testkit.Password})
	if err != nil || verified.JSON200 == nil {
		t.Fatalf("verify: %v %v", err, verified)
	}
	userID := verified.JSON200.Id
	requireAppTimes(t, app, since, []string{"users.created_at", "users.updated_at", "users.email_verified_at"},
		`SELECT v.* FROM users, LATERAL (VALUES ('users.created_at', created_at), ('users.updated_at', updated_at), ('users.email_verified_at', email_verified_at)) v WHERE id = $1`, userID)

	since = app.Clock.Now()
	first, second := app.Login(t, email, testkit.Password), app.Login(t, email, testkit.Password)
	sessionTimes := `SELECT v.* FROM sessions, LATERAL (VALUES ('created_at', created_at), ('last_used_at', last_used_at), ('revoked_at', revoked_at)) v WHERE id = $1`
	firstSession, secondSession := sessionOfUser(t, app, first.AccessToken), sessionOfUser(t, app, second.AccessToken)
	requireAppTimes(t, app, since, []string{"created_at", "last_used_at"}, sessionTimes, firstSession)

	since = app.Clock.Now()
	next := refresh(t, app, first.RefreshToken).JSON200
	if next == nil {
		t.Fatal("refresh refused")
	}
	requireAppTimes(t, app, since, []string{"last_used_at"}, `SELECT 'last_used_at', last_used_at FROM sessions WHERE id = $1`, firstSession)
	requireAppTimes(t, app, since, []string{"rotated_at"}, `SELECT 'rotated_at', rotated_at FROM refresh_tokens WHERE session_id = $1 AND rotated_at IS NOT NULL`, firstSession)

	since = app.Clock.Now()
	np := "Another-Horse-8"
	if r, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &np, CurrentPassword: testkit.Password}, testkit.Bearer(next.AccessToken)); err != nil || r.StatusCode() != http.StatusOK {
		t.Fatalf("password change: %v %v", err, r)
	}
	requireAppTimes(t, app, since, []string{"users.updated_at"}, `SELECT 'users.updated_at', updated_at FROM users WHERE id = $1`, userID)
	requireAppTimes(t, app, since, []string{"revoked_at"}, `SELECT 'revoked_at', revoked_at FROM sessions WHERE id = $1`, secondSession)

	since = app.Clock.Now()
	third := app.Login(t, email, np)
	thirdSession := sessionOfUser(t, app, third.AccessToken)
	if r, err := app.Client.RevokeSessionWithResponse(ctx, thirdSession, testkit.Bearer(next.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke a session: %v %v", err, r)
	}
	requireAppTimes(t, app, since, []string{"revoked_at"}, `SELECT 'revoked_at', revoked_at FROM sessions WHERE id = $1`, thirdSession)

	since = app.Clock.Now()
	if r, err := app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(next.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout: %v %v", err, r)
	}
	requireAppTimes(t, app, since, []string{"revoked_at"}, `SELECT 'revoked_at', revoked_at FROM sessions WHERE id = $1`, firstSession)

	since = app.Clock.Now()
	if r, err := app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: email}); err != nil || r.StatusCode() != http.StatusAccepted {
		t.Fatalf("forgot password: %v %v", err, r)
	}
	requireAppTimes(t, app, since, []string{"account_tokens.created_at"}, `SELECT 'account_tokens.created_at', created_at FROM account_tokens WHERE user_id = $1`, userID)

	since = app.Clock.Now()
	last := app.Login(t, email, np)
	lastSession := sessionOfUser(t, app, last.AccessToken)
	if r, err := app.Client.DeleteMeWithResponse(ctx, nil, client.DeleteUserRequest{CurrentPassword: ptr(np)}, testkit.Bearer(last.AccessToken)); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("delete the account: %v %v", err, r)
	}
	requireAppTimes(t, app, since, []string{"users.updated_at"}, `SELECT 'users.updated_at', updated_at FROM users WHERE id = $1`, userID)
	requireAppTimes(t, app, since, []string{"revoked_at"}, `SELECT 'revoked_at', revoked_at FROM sessions WHERE id = $1`, lastSession)

	// Every mail sent, so that the sweep sees each outbox time.
	testkit.WaitUntil(t, 10*time.Second, 20*time.Millisecond, func() bool {
		var unsent int
		err := app.Deps.DB.Pool().QueryRow(ctx, `SELECT count(*) FROM mail_outbox WHERE recipient = $1 AND status <> 'sent'`, email).Scan(&unsent)
		return err == nil && unsent == 0
	}, func() string { return "the outbox did not send every mail" })
	requireAppTimes(t, app, start, []string{
		"users.created_at", "users.updated_at", "users.email_verified_at",
		"sessions.created_at", "sessions.last_used_at", "sessions.revoked_at",
		"refresh_tokens.created_at", "refresh_tokens.rotated_at", "account_tokens.created_at", "security_events.created_at",
		"mail_outbox.created_at", "mail_outbox.next_attempt_at", "mail_outbox.sent_at",
	}, userTimes, userID, email)
}

// sessionOfUser is the session an access token belongs to, as the caller's
// session list marks it.
func sessionOfUser(t *testing.T, app *testkit.App, access string) uuid.UUID {
	t.Helper()
	list, err := app.Client.ListSessionsWithResponse(context.Background(), testkit.Bearer(access))
	if err != nil || list.JSON200 == nil {
		t.Fatalf("list sessions: %v %v", err, list)
	}
	for _, s := range list.JSON200.Sessions {
		if s.Current {
			return s.Id
		}
	}
	t.Fatal("no session is marked current")
	return uuid.UUID{}
}
