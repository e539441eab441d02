package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

func TestEvents_StoreAuthdsOwnRequestIDAndNoFormatCharacters(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u := app.Register(t, testkit.UniqueEmail(), testkit.Password)
	// A right-to-left override makes "...gnp.exe" read as "...exe.png".
	agent := "Mozilla/5.0 \u202egnp.exe\u200b\u2066"
	login, err := app.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email), testkit.Header("User-Agent", agent), testkit.Header("X-Request-ID", "support-ticket-4711"))
	if err != nil || login.JSON200 == nil {
		t.Fatalf("login: %v", err)
	}
	ownID := login.HTTPResponse.Header.Get("X-Request-ID")
	if ownID == "support-ticket-4711" || ownID == "" {
		t.Errorf("X-Request-ID = %q, want authd's own id", ownID)
	}
	if len(app.Logs.Lines(`"request_id":"`+ownID+`"`, `"client_request_id":"support-ticket-4711"`)) == 0 {
		t.Error("the client's request id is not logged beside authd's own")
	}
	page := events(t, app, login.JSON200.AccessToken, nil)
	ev := page.Events[0]
	if ev.Kind != "login_succeeded" || ev.RequestId != ownID || ev.UserAgent != "Mozilla/5.0 gnp.exe" {
		t.Errorf("login event: kind %s, request id %q (want %q), user agent %q", ev.Kind, ev.RequestId, ownID, ev.UserAgent)
	}
	resp, err := app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(login.JSON200.AccessToken))
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("sessions: %v", err)
	}
	for _, s := range resp.JSON200.Sessions {
		if s.UserAgent != "Mozilla/5.0 gnp.exe" {
			t.Errorf("listed session's user agent: %+q", s.UserAgent)
		}
	}
}

func TestMail_ThirdPartyMailCarriesNoAddressTheRequesterTyped(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	// With verification off, anyone can hold an account under an address
	// that reads as a message, and ask to move it to a victim's address.
	lure := "urgent.call.1-800-555-0100.now@example.com"
	app.Register(t, lure, testkit.Password)
	pair := app.Login(t, lure, testkit.Password)
	victim := testkit.UniqueEmail()
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &victim, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("PUT: %d", r.StatusCode())
	}
	confirm := mp.WaitForMail(victim, 1)[0]
	if strings.Contains(confirm.Text+confirm.HTML+confirm.Subject, "1-800") {
		t.Errorf("the confirmation to %s repeats the requester's address:\n%s", victim, confirm.Text)
	}

	// And the other way: a stolen session moves a victim's account to a
	// lure address; the victim's notice does not repeat it.
	owner, ownerPair := app.NewUser(t)
	lure2 := "security-team.call.1-800-555-0199@example.com"
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &lure2, CurrentPassword: testkit.Password}, testkit.Bearer(ownerPair.AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("PUT: %d", r.StatusCode())
	}
	notice := mp.WaitForMail(owner.Email, 1)[0]
	if strings.Contains(notice.Text+notice.HTML+notice.Subject, "1-800") || !strings.Contains(notice.Text, "change its email address") {
		t.Errorf("the notice to the account's owner:\n%s", notice.Text)
	}
}

func TestSessions_RowsStoredBeforeTheCleaningAreListedClean(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	for _, table := range []string{"sessions", "security_events"} {
		if _, err := app.Deps.DB.Pool().Exec(ctx, "UPDATE "+table+" SET user_agent = $1 WHERE user_id = $2", "curl/8 \u202egnp.exe", u.Id); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(pair.AccessToken))
	if err != nil || resp.JSON200 == nil || len(resp.JSON200.Sessions) != 1 {
		t.Fatalf("sessions: %v", err)
	}
	if got := resp.JSON200.Sessions[0].UserAgent; got != "curl/8 gnp.exe" {
		t.Errorf("listed session's user agent: %+q", got)
	}
	for _, ev := range events(t, app, pair.AccessToken, nil).Events {
		if ev.UserAgent != "curl/8 gnp.exe" {
			t.Errorf("listed %s event's user agent: %+q", ev.Kind, ev.UserAgent)
		}
	}
}
