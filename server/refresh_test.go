package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

func refresh(t *testing.T, app *testkit.App, tok string) *client.RefreshTokenResponse {
	t.Helper()
	resp, err := app.Client.RefreshTokenWithResponse(context.Background(), client.RefreshRequest{RefreshToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func meStatus(t *testing.T, app *testkit.App, access string) int {
	t.Helper()
	return getMe(t, app, access).StatusCode()
}

func TestRefresh_RotatesTokenPair(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	pool := app.Deps.DB.Pool() // shared by parallel tests: touch only this user's rows
	if _, err := pool.Exec(context.Background(), "UPDATE sessions SET last_used_at = now() - interval '1 hour' WHERE user_id = $1", u.Id); err != nil {
		t.Fatal(err)
	}

	resp := refresh(t, app, pair.RefreshToken)
	next := resp.JSON200
	if next == nil {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	if next.RefreshToken == pair.RefreshToken || next.AccessToken == pair.AccessToken {
		t.Error("refresh returned the same tokens")
	}
	var idle time.Duration
	if err := pool.QueryRow(context.Background(), "SELECT now() - last_used_at FROM sessions WHERE user_id = $1", u.Id).Scan(&idle); err != nil {
		t.Fatal(err)
	}
	if idle > time.Minute {
		t.Errorf("the session was last used %s ago: the rotation did not record its use", idle)
	}
	if resp.HTTPResponse.Header.Get("Cache-Control") != "no-store" {
		t.Error("refresh response lacks Cache-Control: no-store")
	}
	if meStatus(t, app, next.AccessToken) != http.StatusOK {
		t.Error("new access token refused")
	}
	// The chain goes on: the successor rotates too.
	if third := refresh(t, app, next.RefreshToken); third.JSON200 == nil {
		t.Fatalf("second rotation: status %d", third.StatusCode())
	}
}

func TestRefresh_GraceRetryReturnsSameSuccessor(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)

	first := refresh(t, app, pair.RefreshToken).JSON200
	retry := refresh(t, app, pair.RefreshToken).JSON200 // the client lost the first answer
	if first == nil || retry == nil {
		t.Fatal("rotation or retry refused")
	}
	if retry.RefreshToken != first.RefreshToken {
		t.Error("grace retry returned a different successor")
	}
	if meStatus(t, app, retry.AccessToken) != http.StatusOK {
		t.Error("access token from the retry refused")
	}
	if refresh(t, app, first.RefreshToken).JSON200 == nil {
		t.Error("successor unusable after a grace retry")
	}
}

// TestRefresh_RetryFromAnotherClientIsReuse: the retry is for a client whose
// answer was lost. Someone else holding a just-rotated token (the thief who
// rotated first, or the owner after a thief did) is reuse, so the two cannot
// alternate inside the window unnoticed.
func TestRefresh_RetryFromAnotherClientIsReuse(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	ctx := context.Background()
	thief, owner := testkit.From("203.0.113.7"), testkit.From("198.51.100.20")

	stolen, err := app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken}, thief)
	if err != nil || stolen.JSON200 == nil {
		t.Fatalf("the thief's rotation: %v %v", stolen, err)
	}
	app.Clock.Advance(time.Minute) // well inside the retry window
	late, err := app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken}, owner)
	if err != nil || late.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("the owner's later refresh of the rotated token from another client: %v %v, want 401", late.StatusCode(), err)
	}
	if got := refresh(t, app, stolen.JSON200.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("the thief's successor after the reuse: %d, want 401 (session revoked)", got)
	}
}

func TestRefresh_ReusedTokenRevokesSession(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)

	next := refresh(t, app, pair.RefreshToken).JSON200
	newest := refresh(t, app, next.RefreshToken).JSON200 // successor used: no more grace for the first
	if newest == nil {
		t.Fatal("rotation refused")
	}

	replay := refresh(t, app, pair.RefreshToken)
	if replay.ApplicationproblemJSON401 == nil {
		t.Fatalf("replay: status %d, want 401", replay.StatusCode())
	}
	if got := refresh(t, app, newest.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("newest refresh token after reuse: status %d, want 401", got)
	}
	if got := meStatus(t, app, newest.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("access token after reuse: status %d, want 401", got)
	}
	if len(app.Logs.Lines("refresh token reuse detected")) != 1 {
		t.Errorf("reuse not logged once:\n%s", app.Logs.String())
	}
}

func TestRefresh_RetryAfterTheRetryWindowIsReuse(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)

	next := refresh(t, app, pair.RefreshToken).JSON200
	app.Clock.Advance(app.Deps.RefreshRetry + time.Second)
	if got := refresh(t, app, pair.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Fatalf("retry after the retry window: status %d, want 401", got)
	}
	if got := refresh(t, app, next.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("successor after late replay: status %d, want 401 (session revoked)", got)
	}
}

func TestRefresh_ExpiredSessionRefused(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) { d.SessionTTL = time.Hour })
	_, pair := app.NewUser(t)
	if pair.RefreshExpiresIn > 3600 || pair.RefreshExpiresIn < 3590 {
		t.Errorf("refresh_expires_in = %d, want about 3600", pair.RefreshExpiresIn)
	}

	app.Clock.Advance(time.Hour + time.Second)
	if got := refresh(t, app, pair.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("expired session: status %d, want 401", got)
	}
}

func TestRefresh_UnknownTokenRefused(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	for _, tok := range []string{"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x", "not a token at all"} {
		resp := refresh(t, app, tok)
		if resp.ApplicationproblemJSON401 == nil {
			t.Errorf("%q: status %d, want 401", tok, resp.StatusCode())
		}
	}
}

func TestRefresh_DeactivatedUserRefused(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)
	if r := testkit.Must(app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)))(t); r.StatusCode() != 204 {
		t.Fatalf("delete: %d", r.StatusCode())
	}
	if got := refresh(t, app, other.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("refresh after deletion: status %d, want 401", got)
	}
}
