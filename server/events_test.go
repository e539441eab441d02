package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

func events(t *testing.T, app *testkit.App, access string, params *client.ListEventsParams) *client.EventPage {
	t.Helper()
	resp, err := app.Client.ListEventsWithResponse(context.Background(), params, testkit.Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("events: %d %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON200
}

func kinds(p *client.EventPage) []string {
	var out []string
	for _, e := range p.Events {
		out = append(out, string(e.Kind))
	}
	return out
}

func TestEvents_UserSeesTheirOwnSecurityActivity(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, first := app.NewUser(t)
	testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: u.Email, Password: "Wrong-Horse-8"}, testkit.Header("User-Agent", "guesser/1.0"), testkit.From("203.0.113.77")))(t)
	second := refresh(t, app, first.RefreshToken).JSON200
	refresh(t, app, second.RefreshToken)
	refresh(t, app, first.RefreshToken) // reuse: the session is revoked
	current := app.Login(t, u.Email, testkit.Password)
	np := "Changed-Horse-5"
	wrong := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &np, CurrentPassword: "Not-Mine-1"}, testkit.Bearer(current.AccessToken)))(t)
	if wrong.StatusCode() != http.StatusForbidden {
		t.Fatalf("wrong current password: %d", wrong.StatusCode())
	}
	testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &np, CurrentPassword: testkit.Password}, testkit.Bearer(current.AccessToken)))(t)

	_, stranger := app.NewUser(t) // another account's trail stays its own

	page := events(t, app, current.AccessToken, nil)
	want := []string{"password_changed", "login_failed", "login_succeeded", "refresh_reuse_detected", "login_failed", "login_succeeded", "registered"}
	if strings.Join(kinds(page), ",") != strings.Join(want, ",") {
		t.Fatalf("events %v, want %v (newest first; a wrong current password counts as a failed login)", kinds(page), want)
	}
	if s1, s2 := page.Events[1].SessionId, page.Events[2].SessionId; s1 == nil || s2 == nil || *s1 != *s2 {
		t.Errorf("the wrong current password's event is not on the session that sent it: %+v", page.Events[1:3])
	}
	failed := page.Events[4]
	if failed.Ip != "203.0.113.77" || failed.UserAgent != "guesser/1.0" || failed.RequestId == "" || failed.SessionId != nil {
		t.Errorf("failed login event %+v", failed)
	}
	if page.Events[2].SessionId == nil || page.NextCursor != nil {
		t.Errorf("login event without its session, or a cursor on the only page: %+v", page)
	}
	if got := kinds(events(t, app, stranger.AccessToken, nil)); strings.Join(got, ",") != "login_succeeded,registered" {
		t.Errorf("the other account sees %v", got)
	}
}

func TestEvents_PagesFollowTheCursor(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	u, pair := app.NewUser(t)
	for range 4 {
		app.Login(t, u.Email, testkit.Password)
	}
	// registered + 5 logins = 6 events, in pages of 4
	two := 4
	p1 := events(t, app, pair.AccessToken, &client.ListEventsParams{Limit: &two})
	if len(p1.Events) != 4 || p1.NextCursor == nil {
		t.Fatalf("first page: %d events, cursor %v", len(p1.Events), p1.NextCursor)
	}
	p2 := events(t, app, pair.AccessToken, &client.ListEventsParams{Limit: &two, Cursor: p1.NextCursor})
	if got := kinds(p2); strings.Join(got, ",") != "login_succeeded,registered" || p2.NextCursor != nil {
		t.Errorf("second page %v, cursor %v", got, p2.NextCursor)
	}
	for _, bad := range []string{"not-a-cursor", "9999999999999999999"} { // the spec refuses one, the handler the other
		resp := testkit.Must(app.Client.ListEventsWithResponse(context.Background(), &client.ListEventsParams{Cursor: &bad}, testkit.Bearer(pair.AccessToken)))(t)
		if resp.StatusCode() < 400 || resp.StatusCode() >= 500 {
			t.Errorf("cursor %q: %d, want a 4xx", bad, resp.StatusCode())
		}
	}
	one := 1 // page by page to the end
	var seen []string
	for cursor := (*string)(nil); ; {
		p := events(t, app, pair.AccessToken, &client.ListEventsParams{Limit: &one, Cursor: cursor})
		seen = append(seen, kinds(p)...)
		if p.NextCursor == nil {
			break
		}
		cursor = p.NextCursor
	}
	if len(seen) != 6 || seen[5] != "registered" {
		t.Errorf("one by one: %v, want all 6 events ending with registered", seen)
	}
}

func TestEvents_RetentionPrunesOldEvents(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	u, pair := app.NewUser(t)
	if _, err := app.Deps.DB.Pool().Exec(context.Background(),
		"UPDATE security_events SET created_at = now() - interval '91 days' WHERE user_id = $1 AND kind = 'registered'", u.Id); err != nil {
		t.Fatal(err)
	}
	if err := app.Server.PruneNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := kinds(events(t, app, pair.AccessToken, nil)); strings.Join(got, ",") != "login_succeeded" {
		t.Errorf("after pruning: %v, want only the recent login", got)
	}
}
