package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

func TestSessions_ListShowsLiveSessionsAndMarksCurrent(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, first := app.NewUser(t)
	ctx := context.Background()
	second, err := app.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email), testkit.From("198.51.100.31"), testkit.Header("User-Agent", "second-device/1.0"))
	if err != nil || second.JSON200 == nil {
		t.Fatalf("second login: %v", err)
	}

	resp, err := app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(first.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || len(resp.JSON200.Sessions) != 2 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	var current, other int
	for _, s := range resp.JSON200.Sessions {
		if s.Current {
			current++
		} else if s.UserAgent == "second-device/1.0" && s.Ip == "198.51.100.31" {
			other++
		}
	}
	if current != 1 || other != 1 {
		t.Errorf("sessions %+v: want one current and the second device with its IP and agent", resp.JSON200.Sessions)
	}
}

func TestSessions_RevokeOneEndsItAtOnce(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, mine := app.NewUser(t)
	stolen := app.Login(t, u.Email, testkit.Password)
	ctx := context.Background()
	list := testkit.Must(app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(mine.AccessToken)))(t)
	var target uuid.UUID
	for _, s := range list.JSON200.Sessions {
		if !s.Current {
			target = s.Id
		}
	}

	resp, err := app.Client.RevokeSessionWithResponse(ctx, target, testkit.Bearer(mine.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	if got := meStatus(t, app, stolen.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("revoked session's access token: %d, want 401", got)
	}
	if got := refresh(t, app, stolen.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("revoked session's refresh token: %d, want 401", got)
	}
	if got := meStatus(t, app, mine.AccessToken); got != http.StatusOK {
		t.Errorf("the caller's own session: %d, want 200", got)
	}
	again := testkit.Must(app.Client.RevokeSessionWithResponse(ctx, target, testkit.Bearer(mine.AccessToken)))(t)
	if again.StatusCode() != http.StatusNotFound {
		t.Errorf("revoking it again: %d, want 404", again.StatusCode())
	}
}

func TestSessions_OthersSessionsAndUnknownIDsAreTheSame404(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, attacker := app.NewUser(t)
	_, victim := app.NewUser(t)
	ctx := context.Background()
	list := testkit.Must(app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(victim.AccessToken)))(t)
	victimSession := list.JSON200.Sessions[0].Id

	var bodies []string
	for _, id := range []uuid.UUID{victimSession, uuid.New()} {
		resp, err := app.Client.RevokeSessionWithResponse(ctx, id, testkit.Bearer(attacker.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if resp.ApplicationproblemJSON404 == nil {
			t.Fatalf("status %d, want 404", resp.StatusCode())
		}
		p := resp.ApplicationproblemJSON404
		bodies = append(bodies, p.Type+p.Title+p.Detail)
	}
	if bodies[0] != bodies[1] {
		t.Errorf("another user's session and an unknown id answer differently: %q vs %q", bodies[0], bodies[1])
	}
	if got := meStatus(t, app, victim.AccessToken); got != http.StatusOK {
		t.Errorf("the victim's session was touched: %d", got)
	}
	req := testkit.Must(http.NewRequest(http.MethodDelete, app.URL+"/users/me/sessions/not-a-uuid", nil))(t)
	req.Header.Set("Authorization", "Bearer "+attacker.AccessToken)
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed id: %d, want 400", bad.StatusCode)
	}
}

func TestLogout_Scopes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	for _, tc := range []struct {
		scope             client.LogoutParamsScope
		callerOK, otherOK bool
	}{
		{client.Current, false, true},
		{client.Others, true, false},
		{client.All, false, false},
	} {
		u, caller := app.NewUser(t)
		other := app.Login(t, u.Email, testkit.Password)
		scope := tc.scope
		resp, err := app.Client.LogoutWithResponse(ctx, &client.LogoutParams{Scope: &scope}, testkit.Bearer(caller.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusNoContent {
			t.Fatalf("scope %s: %d", scope, resp.StatusCode())
		}
		if got := meStatus(t, app, caller.AccessToken) == http.StatusOK; got != tc.callerOK {
			t.Errorf("scope %s: caller's session live = %v, want %v", scope, got, tc.callerOK)
		}
		if got := meStatus(t, app, other.AccessToken) == http.StatusOK; got != tc.otherOK {
			t.Errorf("scope %s: other session live = %v, want %v", scope, got, tc.otherOK)
		}
	}
	_, pair := app.NewUser(t)
	req := testkit.Must(http.NewRequest(http.MethodPost, app.URL+"/auth/logout?scope=everyone", nil))(t)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	bad.Body.Close()
	if bad.StatusCode != http.StatusUnprocessableEntity { // a value outside the enum breaks a rule, as the spec and README say
		t.Errorf("unknown scope: %d, want 422", bad.StatusCode)
	}
	if meStatus(t, app, pair.AccessToken) != http.StatusOK {
		t.Error("a refused logout ended the session")
	}
}
