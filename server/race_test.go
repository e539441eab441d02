package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

func TestRace_ConcurrentRegistrationsOfOneEmailCreateOneUser(t *testing.T) {
	t.Parallel()
	raceRegistrations(t, testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)) // the per-address limit would refuse most
}

func TestRace_ConcurrentRefreshesKeepOneChain(t *testing.T) {
	t.Parallel()
	raceRefreshes(t, testkit.NewApp(t, testkit.FastHashing))
}

// raceRegistrations registers one email n times at once, spread over apps.
func raceRegistrations(t *testing.T, apps ...*testkit.App) {
	email := testkit.UniqueEmail()
	const n = 20

	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := apps[i%len(apps)].Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: email, Password: testkit.Password})
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = resp.StatusCode()
		})
	}
	close(start)
	wg.Wait()

	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Errorf("statuses = %v, want one 201 and %d 409", count, n-1)
	}
	var rows int
	if err := testkit.Pool(t).QueryRow(context.Background(), "SELECT count(*) FROM users WHERE email = $1", email).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 1 {
		t.Errorf("%d rows for %s, want 1", rows, email)
	}
}

// raceRefreshes presents one refresh token n times at once, spread over apps.
func raceRefreshes(t *testing.T, apps ...*testkit.App) {
	_, pair := apps[0].NewUser(t)
	const n = 10

	results := make([]*client.RefreshTokenResponse, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := apps[i%len(apps)].Client.RefreshTokenWithResponse(context.Background(), client.RefreshRequest{RefreshToken: pair.RefreshToken})
			if err != nil {
				t.Error(err)
				return
			}
			results[i] = resp
		})
	}
	close(start)
	wg.Wait()

	successors := map[string]bool{}
	for _, r := range results {
		if r == nil {
			t.FailNow()
		}
		// Within the grace interval every racer is a retry of the same token.
		if r.JSON200 == nil {
			t.Fatalf("status %d: %s", r.StatusCode(), r.Body)
		}
		successors[r.JSON200.RefreshToken] = true
	}
	if len(successors) != 1 {
		t.Fatalf("%d different successors, want 1", len(successors))
	}
	var live int
	err := testkit.Pool(t).QueryRow(context.Background(), `
		SELECT count(*) FROM refresh_tokens rt JOIN sessions s ON s.id = rt.session_id
		WHERE s.id = (SELECT session_id FROM refresh_tokens WHERE token_hash = sha256($1::bytea))
		  AND rt.rotated_at IS NULL AND s.revoked_at IS NULL`, []byte(pair.RefreshToken)).Scan(&live)
	if err != nil {
		t.Fatal(err)
	}
	if live != 1 {
		t.Errorf("%d live refresh tokens in the session, want 1", live)
	}
	for s := range successors {
		if next := refresh(t, apps[len(apps)-1], s); next.JSON200 == nil {
			t.Errorf("the one successor does not rotate: %d", next.StatusCode())
		}
	}
}
