package server_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// changePassword sends PUT /users/me with current as the current password
// and returns the status and Retry-After seconds.
func changePassword(t *testing.T, app *testkit.App, access, current string) (int, int) {
	t.Helper()
	resp, err := app.Client.UpdateMeWithResponse(context.Background(),
		client.UpdateUserRequest{CurrentPassword: current, Password: ptr("Other-Horse-9")}, testkit.Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() == http.StatusTooManyRequests && !strings.HasSuffix(resp.ApplicationproblemJSON429.Type, "/login-backoff") {
		t.Errorf("429 of type %s, want the login backoff's", resp.ApplicationproblemJSON429.Type)
	}
	wait, _ := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After"))
	return resp.StatusCode(), wait
}

// TestUpdateMe_WrongCurrentPasswordCountsLikeAFailedLogin: a stolen access
// token guessing current_password meets the login backoff (shared with
// logins from the same client) and leaves login_failed events; the right
// password forgives the client, as a successful login does.
func TestUpdateMe_WrongCurrentPasswordCountsLikeAFailedLogin(t *testing.T) {
	t.Parallel()
	app := backoffApp(t) // 3 free failures, then 1 s, 2 s ...
	u, pair := app.NewUser(t)
	for i := range 3 {
		if got, _ := changePassword(t, app, pair.AccessToken, "Wrong-Horse-8"); got != http.StatusForbidden {
			t.Fatalf("wrong password %d: %d, want 403", i+1, got)
		}
	}
	status, wait := changePassword(t, app, pair.AccessToken, testkit.Password)
	if status != http.StatusTooManyRequests || wait != 1 {
		t.Fatalf("after 3 failures: %d with Retry-After %d, want 429 and 1 s (even with the right password)", status, wait)
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, "127.0.0.1"); got != http.StatusTooManyRequests {
		t.Errorf("login from the same client during the backoff: %d, want 429", got)
	}
	failed := 0
	for _, e := range events(t, app, pair.AccessToken, nil).Events {
		if e.Kind == "login_failed" {
			failed++
			if e.SessionId == nil {
				t.Error("login_failed without the session that guessed")
			}
		}
	}
	if failed != 3 {
		t.Errorf("%d login_failed events, want 3", failed)
	}

	app.Clock.Advance(time.Duration(wait) * time.Second)
	if got, _ := changePassword(t, app, pair.AccessToken, testkit.Password); got != http.StatusOK {
		t.Fatalf("the right password after the wait: %d, want 200", got)
	}
	if got, _ := changePassword(t, app, pair.AccessToken, "Wrong-Horse-8"); got != http.StatusForbidden {
		t.Errorf("a failure after a success: %d, want 403 (the success forgave the client)", got)
	}
}

// deleteMe sends DELETE /users/me with current as the current password and
// returns the response.
func deleteMe(t *testing.T, app *testkit.App, access, current string) *client.DeleteMeResponse {
	t.Helper()
	resp, err := app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{CurrentPassword: ptr(current)}, testkit.Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestDeleteMe_NeedsTheCurrentPasswordAndCountsFailures: a stolen access
// token alone cannot deactivate the account; a wrong password is PUT's 403
// and meets the login backoff like a failed login.
func TestDeleteMe_NeedsTheCurrentPasswordAndCountsFailures(t *testing.T) {
	t.Parallel()
	app := backoffApp(t) // 3 free failures, then 1 s, 2 s ...
	_, pair := app.NewUser(t)
	for i := range 3 {
		resp := deleteMe(t, app, pair.AccessToken, "Wrong-Horse-8")
		p := resp.ApplicationproblemJSON403
		if p == nil || !strings.HasSuffix(p.Type, "/wrong-password") || p.Detail != "The current password is incorrect." {
			t.Fatalf("wrong password %d: %d %s, want PUT's 403 wrong-password", i+1, resp.StatusCode(), resp.Body)
		}
	}
	resp := deleteMe(t, app, pair.AccessToken, testkit.Password)
	if p := resp.ApplicationproblemJSON429; p == nil || !strings.HasSuffix(p.Type, "/login-backoff") {
		t.Fatalf("after 3 failures: %d %s, want the login backoff's 429", resp.StatusCode(), resp.Body)
	}
	if got := meStatus(t, app, pair.AccessToken); got != http.StatusOK {
		t.Fatalf("GET /users/me after refused deletions: %d, want 200 (still active)", got)
	}
	if got := kinds(events(t, app, pair.AccessToken, nil)); strings.Count(strings.Join(got, " "), "login_failed") != 3 {
		t.Errorf("events %v, want 3 login_failed", got)
	}
	wait, _ := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After"))
	app.Clock.Advance(time.Duration(wait) * time.Second)
	if got := deleteMe(t, app, pair.AccessToken, testkit.Password).StatusCode(); got != http.StatusNoContent {
		t.Errorf("the right password after the wait: %d, want 204", got)
	}
}
