package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// Two removals of the last two identities of an account without a password,
// released together from behind the user row: the first commits, the second
// sees that it would leave nothing and is refused, so exactly one identity
// remains. Not parallel: it counts lock waits (see holdRow).
func TestIdentityRace_RemovingTheLastTwoAtOnceLeavesOne(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	userID, first, pair := passwordlessUser(t, app)
	second := app.LinkIdentity(t, userID, "google", "g-"+first.String(), "", true)

	tx := holdRow(t, app, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", userID)
	answers := make(chan *client.DeleteIdentityResponse, 2)
	for _, id := range []uuid.UUID{first, second} {
		go func() {
			r, err := app.Client.DeleteIdentityWithResponse(ctx, id.String(), client.CurrentPasswordRequest{}, testkit.Bearer(pair.AccessToken))
			if err != nil {
				t.Error(err)
			}
			answers <- r
		}()
	}
	waitForLockWaiters(t, app, 2)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var statuses []int
	for range 2 {
		r := <-answers
		if r == nil {
			t.FailNow()
		}
		statuses = append(statuses, r.StatusCode())
		if r.StatusCode() == http.StatusConflict && problemSlug(r.Body) != "last-login-method" {
			t.Errorf("409 of type %s, want last-login-method", problemSlug(r.Body))
		}
	}
	slices.Sort(statuses)
	if !slices.Equal(statuses, []int{http.StatusNoContent, http.StatusConflict}) {
		t.Errorf("statuses %v, want one 204 and one 409", statuses)
	}
	if left := listIdentities(t, app, pair.AccessToken); len(left) != 1 {
		t.Errorf("%d identities left, want exactly 1", len(left))
	}
	if n := securityEvents(t, app, userID, "identity_unlinked"); n != 1 {
		t.Errorf("%d identity_unlinked events, want 1", n)
	}
}
