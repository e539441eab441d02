package server_test

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// pgCommit is how pgx commits a transaction on the wire: a simple-protocol
// Query message holding "commit".
var pgCommit = []byte("Q\x00\x00\x00\x0bcommit\x00")

// committedSuccessor is the hash of the successor the database recorded for
// tok, read directly (not through the app's proxy); nil if tok is unrotated.
func committedSuccessor(t *testing.T, db faultyDatabase, tok string) []byte {
	t.Helper()
	var hash []byte
	err := db.direct.QueryRow(context.Background(), `
		SELECT s.token_hash FROM refresh_tokens p LEFT JOIN refresh_tokens s ON s.id = p.successor_id
		WHERE p.token_hash = $1`, token.HashOpaque(tok)).Scan(&hash)
	if err != nil {
		t.Fatal(err)
	}
	return hash
}

func TestFaults_RefreshAnswerLostInAnOutageIsRetriedIntoTheSameSuccessor(t *testing.T) {
	t.Parallel()
	db := throughProxy(t, database.BreakerSettings{Failures: 1 << 20, OpenFor: time.Second, Successes: 1, QueryTimeout: 3 * time.Second})
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, db.option)
	u, pair := app.NewUser(t)

	// loseAnswer refreshes tok: the database commits the rotation and the
	// connection dies before the answer, as in a crash. The database stays
	// away for a minute, far longer than the old 10 s grace, and comes back.
	// It returns the hash of the successor that was committed.
	loseAnswer := func(tok string) []byte {
		t.Helper()
		db.proxy.CutAnswerTo(pgCommit)
		if r := refresh(t, app, tok); r.ApplicationproblemJSON503 == nil {
			t.Fatalf("refresh whose answer was lost: status %d, want a 503 problem: %s", r.StatusCode(), r.Body)
		}
		committed := committedSuccessor(t, db, tok)
		if committed == nil {
			t.Fatal("the refresh's COMMIT did not reach the database")
		}
		db.proxy.SetDown(true)
		if r := refresh(t, app, tok); r.ApplicationproblemJSON503 == nil {
			t.Fatalf("refresh during the outage: status %d, want a 503 problem", r.StatusCode())
		}
		app.Clock.Advance(time.Minute)
		db.proxy.SetDown(false)
		db.pool.Reset() // drop the connections the outage broke, as time would
		return committed
	}

	// The client retries its last acknowledged token after the outage and
	// gets the successor the lost answer carried, for as long as it is unused.
	acked := refresh(t, app, pair.RefreshToken).JSON200
	if acked == nil {
		t.Fatal("rotation refused")
	}
	committed := loseAnswer(acked.RefreshToken)
	retry := refresh(t, app, acked.RefreshToken)
	if retry.JSON200 == nil {
		t.Fatalf("retry after the outage: status %d, want 200 (the session must survive): %s", retry.StatusCode(), retry.Body)
	}
	if !bytes.Equal(token.HashOpaque(retry.JSON200.RefreshToken), committed) {
		t.Error("the retry returned another successor than the one the lost answer carried")
	}
	if again := refresh(t, app, acked.RefreshToken).JSON200; again == nil || again.RefreshToken != retry.JSON200.RefreshToken {
		t.Error("a second retry did not return the same successor")
	}
	if got := meStatus(t, app, retry.JSON200.AccessToken); got != http.StatusOK {
		t.Errorf("access token from the retry: status %d, want 200", got)
	}
	// An older token than the immediate predecessor is still reuse.
	if got := refresh(t, app, pair.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Fatalf("the token before the predecessor: status %d, want 401", got)
	}
	if got := refresh(t, app, retry.JSON200.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("successor after reuse of an older token: status %d, want 401 (session revoked)", got)
	}

	// In another session: once the successor has been used, the predecessor
	// is reuse again, however recent.
	other := app.Login(t, u.Email, testkit.Password)
	loseAnswer(other.RefreshToken)
	successor := refresh(t, app, other.RefreshToken).JSON200
	if successor == nil {
		t.Fatal("retry after the outage refused")
	}
	newest := refresh(t, app, successor.RefreshToken).JSON200
	if newest == nil {
		t.Fatal("the recovered successor does not rotate")
	}
	if got := refresh(t, app, other.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Fatalf("the predecessor after its successor was used: status %d, want 401", got)
	}
	if got := refresh(t, app, newest.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Errorf("newest token after reuse: status %d, want 401 (session revoked)", got)
	}
	if n := len(app.Logs.Lines("refresh token reuse detected")); n != 2 {
		t.Errorf("%d reuse detections logged, want 2:\n%s", n, app.Logs)
	}
}
