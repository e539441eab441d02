package server_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

func maxSessions(n int) testkit.Option {
	return func(d *server.Deps) { d.MaxSessionsPerUser = n }
}

// liveSessions counts the user's sessions that are neither revoked nor expired.
func liveSessions(t *testing.T, userID uuid.UUID) int {
	t.Helper()
	var n int
	err := testkit.Pool(t).QueryRow(context.Background(),
		`SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()`, userID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSessions_CapRevokesTheOldestWithAnEvent(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, maxSessions(3))
	ctx := context.Background()
	u, oldest := app.NewUser(t)
	list, err := app.Client.ListSessionsWithResponse(ctx, testkit.Bearer(oldest.AccessToken))
	if err != nil || list.JSON200 == nil || len(list.JSON200.Sessions) != 1 {
		t.Fatalf("sessions of a new user: %v %s", err, list.Body)
	}
	oldestID := list.JSON200.Sessions[0].Id
	app.Login(t, u.Email, testkit.Password)
	app.Login(t, u.Email, testkit.Password)
	if n := liveSessions(t, u.Id); n != 3 {
		t.Fatalf("%d live sessions at the cap, want 3", n)
	}

	newest := app.Login(t, u.Email, testkit.Password) // the fourth
	if n := liveSessions(t, u.Id); n != 3 {
		t.Errorf("%d live sessions after a login over the cap, want 3", n)
	}
	if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(oldest.AccessToken)))(t); me.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the oldest session's access token: %d, want 401", me.StatusCode())
	}
	if r := refresh(t, app, oldest.RefreshToken); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the oldest session's refresh token: %d, want 401", r.StatusCode())
	}
	events, err := app.Client.ListEventsWithResponse(ctx, &client.ListEventsParams{}, testkit.Bearer(newest.AccessToken))
	if err != nil || events.JSON200 == nil {
		t.Fatalf("events: %v %s", err, events.Body)
	}
	var revoked int
	for _, e := range events.JSON200.Events {
		if e.Kind == "session_revoked" && e.SessionId != nil && *e.SessionId == oldestID {
			revoked++
		}
	}
	if revoked != 1 {
		t.Errorf("%d session_revoked events for the oldest session, want 1: %+v", revoked, events.JSON200.Events)
	}
}

// TestSessions_ConcurrentLoginsCannotExceedTheCap: logins that race each
// other at the cap still leave exactly the cap of live sessions.
func TestSessions_ConcurrentLoginsCannotExceedTheCap(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, maxSessions(3))
	u, _ := app.NewUser(t)
	app.Login(t, u.Email, testkit.Password)
	app.Login(t, u.Email, testkit.Password)
	const n = 10
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(u.Email), testkit.From("192.0.2."+strconv.Itoa(100+i)))
			if err != nil || resp.StatusCode() != http.StatusOK {
				t.Errorf("concurrent login: %v %d", err, resp.StatusCode())
			}
		}()
	}
	close(start)
	wg.Wait()
	if got := liveSessions(t, u.Id); got != 3 {
		t.Errorf("%d live sessions after %d concurrent logins, want the cap of 3", got, n)
	}
}
