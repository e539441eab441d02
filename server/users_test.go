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

func TestGetMe_RequiresBearer(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	resp, err := app.Client.GetMeWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", resp.StatusCode())
	}
	if got := resp.HTTPResponse.Header.Get("WWW-Authenticate"); got != `Bearer realm="authd"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

func TestUpdateMe_PasswordChangeRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, current := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)
	newPassword := "Brand-New-Pass9"

	resp, err := app.Client.UpdateMeWithResponse(context.Background(),
		client.UpdateUserRequest{Password: &newPassword, CurrentPassword: testkit.Password}, testkit.Bearer(current.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	if got := meStatus(t, app, other.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("other session's access token: status %d, want 401", got)
	}
	if got := refresh(t, app, other.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("other session's refresh token: status %d, want 401", got)
	}
	if got := meStatus(t, app, current.AccessToken); got != http.StatusOK {
		t.Errorf("the changing session: status %d, want 200", got)
	}
	app.Login(t, u.Email, newPassword)
	if r := testkit.Must(app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: u.Email, Password: testkit.Password}))(t); r.StatusCode() != 401 {
		t.Errorf("old password still logs in: %d", r.StatusCode())
	}
}

func TestUpdateMe_WrongCurrentPasswordForbidden(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	newEmail := testkit.UniqueEmail()

	resp, err := app.Client.UpdateMeWithResponse(context.Background(),
		client.UpdateUserRequest{Email: &newEmail, CurrentPassword: "Not-The-Pass1"}, testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ApplicationproblemJSON403 == nil {
		t.Fatalf("status %d, want 403: %s", resp.StatusCode(), resp.Body)
	}
	me := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(pair.AccessToken)))(t)
	if me.JSON200.Email != u.Email {
		t.Error("email changed despite the wrong password")
	}
}

func TestUpdateMe_RuleViolations(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	weak, badEmail := "weakpass", "nope"
	cases := map[string]client.UpdateUserRequest{
		"nothing to change": {CurrentPassword: testkit.Password},
		"weak password":     {Password: &weak, CurrentPassword: testkit.Password},
		"bad email":         {Email: &badEmail, CurrentPassword: testkit.Password},
	}
	for name, body := range cases {
		resp, err := app.Client.UpdateMeWithResponse(context.Background(), body, testkit.Bearer(pair.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ApplicationproblemJSON422 == nil {
			t.Errorf("%s: status %d, want 422: %s", name, resp.StatusCode(), resp.Body)
		}
	}
}

func TestDeleteMe_DeactivatesAndEndsEverySession(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)

	resp, err := app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	for _, tok := range []string{pair.AccessToken, other.AccessToken} {
		if got := meStatus(t, app, tok); got != http.StatusUnauthorized {
			t.Errorf("access token after deletion: %d, want 401", got)
		}
	}
	var active bool
	if err := testkit.Pool(t).QueryRow(context.Background(), "SELECT is_active FROM users WHERE id = $1", u.Id).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active {
		t.Error("user row still active; want a soft delete")
	}
	again := testkit.Must(app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: u.Email, Password: testkit.Password}))(t)
	if again.StatusCode() != http.StatusConflict {
		t.Errorf("re-registering a deactivated email: %d, want 409", again.StatusCode())
	}
}

// changePasswordDuring runs request while the test holds the user's row,
// waits until the request blocks on that row (its password check is done),
// then changes the stored hash as a concurrent password change would, and
// returns the request's status.
func changePasswordDuring(t *testing.T, userID uuid.UUID, request func() int) int {
	t.Helper()
	return changeUserDuring(t, userID, "UPDATE users SET password_hash = 'changed-elsewhere' WHERE id = $1", request)
}

// changeUserDuring is changePasswordDuring with the change given as SQL
// (with the user's id as $1).
func changeUserDuring(t *testing.T, userID uuid.UUID, change string, request func() int) int {
	t.Helper()
	ctx := context.Background()
	tx, err := testkit.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op once committed
	if _, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", userID); err != nil {
		t.Fatal(err)
	}
	status := make(chan int, 1)
	go func() { status <- request() }()

	testkit.WaitUntil(t, 20*time.Second, 10*time.Millisecond, func() bool {
		var waiting int
		err := testkit.Pool(t).QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting > 0
	}, func() string { return "the request never blocked on the held row" })
	if _, err := tx.Exec(ctx, change, userID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return <-status
}

// Not parallel: changePasswordDuring reads pg_stat_activity for the whole
// database, which parallel tests would also show.
func TestUpdateMe_RacingAPasswordChangeIsRefused(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	newEmail := testkit.UniqueEmail()
	status := changePasswordDuring(t, u.Id, func() int {
		resp, err := app.Client.UpdateMeWithResponse(context.Background(),
			client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken))
		if err != nil {
			t.Error(err)
			return 0
		}
		return resp.StatusCode()
	})
	if status != http.StatusForbidden {
		t.Errorf("change checked against the old hash: %d, want 403", status)
	}
}

// An account deactivated while a change waits for its row (by an operator,
// in SQL) ends the change with the session-ended 401: no 500, no new
// password and no mail for an inactive account.
// Not parallel: changeUserDuring reads pg_stat_activity for the whole database.
func TestUpdateMe_AccountDeactivatedDuringTheChangeIsSessionEnded(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	newPassword := "Another-Horse-8"
	for name, body := range map[string]func() client.UpdateUserRequest{
		"new password": func() client.UpdateUserRequest {
			return client.UpdateUserRequest{Password: &newPassword, CurrentPassword: testkit.Password}
		},
		"new email": func() client.UpdateUserRequest {
			email := testkit.UniqueEmail()
			return client.UpdateUserRequest{Email: &email, CurrentPassword: testkit.Password}
		},
	} {
		t.Run(name, func(t *testing.T) {
			u, pair := app.NewUser(t)
			var resp *client.UpdateMeResponse
			status := changeUserDuring(t, u.Id, "UPDATE users SET is_active = false WHERE id = $1", func() int {
				var err error
				resp, err = app.Client.UpdateMeWithResponse(context.Background(), body(), testkit.Bearer(pair.AccessToken))
				if err != nil {
					t.Error(err)
					return 0
				}
				return resp.StatusCode()
			})
			if status != http.StatusUnauthorized || resp.ApplicationproblemJSON401 == nil || resp.ApplicationproblemJSON401.Detail != "The session has ended." {
				t.Fatalf("change of an account deactivated meanwhile: %d %s, want the session-ended 401", status, resp.Body)
			}
			var pending int
			if err := testkit.Pool(t).QueryRow(context.Background(),
				"SELECT count(*) FROM account_tokens WHERE user_id = $1", u.Id).Scan(&pending); err != nil {
				t.Fatal(err)
			}
			if pending != 0 {
				t.Errorf("%d email-change links were made for the deactivated account", pending)
			}
		})
	}
}
