package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// sealedOf reports whether the row of a refresh token still holds a sealed
// successor.
func sealedOf(t *testing.T, pool *pgxpool.Pool, tok string) bool {
	t.Helper()
	var sealed bool
	if err := pool.QueryRow(context.Background(),
		"SELECT successor_sealed IS NOT NULL FROM refresh_tokens WHERE token_hash = $1", token.HashOpaque(tok)).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	return sealed
}

func sessionOf(t *testing.T, pool *pgxpool.Pool, tok string) uuid.UUID {
	t.Helper()
	var sid uuid.UUID
	if err := pool.QueryRow(context.Background(),
		"SELECT session_id FROM refresh_tokens WHERE token_hash = $1", token.HashOpaque(tok)).Scan(&sid); err != nil {
		t.Fatal(err)
	}
	return sid
}

func TestRefresh_UsingTheSuccessorClearsThePredecessorsSealedCopy(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	pool := app.Deps.DB.Pool()

	next := refresh(t, app, pair.RefreshToken).JSON200
	if next == nil || !sealedOf(t, pool, pair.RefreshToken) {
		t.Fatal("the rotation stored no sealed successor for a retry")
	}
	newest := refresh(t, app, next.RefreshToken).JSON200
	if newest == nil {
		t.Fatal("second rotation refused")
	}
	if sealedOf(t, pool, pair.RefreshToken) {
		t.Error("the first token's row still holds its successor sealed after the successor was used")
	}
	if !sealedOf(t, pool, next.RefreshToken) {
		t.Error("the latest rotation stored no sealed successor")
	}
}

func TestPrune_ClearsSealedSuccessorsOnceTheRetryWindowPassed(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	_, pair := app.NewUser(t)
	pool := app.Deps.DB.Pool()
	ctx := context.Background()

	next := refresh(t, app, pair.RefreshToken).JSON200
	if next == nil {
		t.Fatal("rotation refused")
	}
	if err := app.Server.PruneNow(ctx); err != nil {
		t.Fatal(err)
	}
	if !sealedOf(t, pool, pair.RefreshToken) {
		t.Fatal("pruning within the retry window removed the sealed successor")
	}
	app.Clock.Advance(app.Deps.RefreshRetry + time.Second)
	if err := app.Server.PruneNow(ctx); err != nil {
		t.Fatal(err)
	}
	if sealedOf(t, pool, pair.RefreshToken) {
		t.Error("the sealed successor outlived the retry window")
	}
	if refresh(t, app, next.RefreshToken).JSON200 == nil {
		t.Error("the live token stopped rotating after pruning")
	}
}

func TestPrune_RemovesEndedSessionsAndKeepsLiveChains(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	u, live := app.NewUser(t)
	revoked := app.Login(t, u.Email, testkit.Password)
	expired := app.Login(t, u.Email, testkit.Password)
	justRevoked := app.Login(t, u.Email, testkit.Password)
	pool := app.Deps.DB.Pool()
	ctx := context.Background()
	liveSession := sessionOf(t, pool, live.RefreshToken)

	// A live chain of three tokens, and a rotated token in the ended sessions.
	second := refresh(t, app, live.RefreshToken).JSON200
	third := refresh(t, app, second.RefreshToken).JSON200
	if refresh(t, app, revoked.RefreshToken).JSON200 == nil || refresh(t, app, expired.RefreshToken).JSON200 == nil {
		t.Fatal("rotation refused")
	}
	for tok, end := range map[string]string{
		revoked.RefreshToken:     "UPDATE sessions SET revoked_at = now() - interval '2 days' WHERE id = $1",
		expired.RefreshToken:     "UPDATE sessions SET expires_at = now() - interval '2 days' WHERE id = $1",
		justRevoked.RefreshToken: "UPDATE sessions SET revoked_at = now() WHERE id = $1",
	} {
		if _, err := pool.Exec(ctx, end, sessionOf(t, pool, tok)); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Server.PruneNow(ctx); err != nil {
		t.Fatal(err)
	}

	count := func(query string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count("SELECT count(*) FROM sessions WHERE user_id = $1", u.Id); n != 2 {
		t.Errorf("%d sessions left, want 2 (the live one and the one revoked just now)", n)
	}
	if n := count("SELECT count(*) FROM refresh_tokens"); n != 4 {
		t.Errorf("%d refresh tokens left, want 4 (the live chain of 3 and the just-revoked one)", n)
	}
	// The live chain is whole: the newest rotates, and its oldest token is
	// still recognised as reuse.
	if refresh(t, app, third.RefreshToken).JSON200 == nil {
		t.Fatal("the live session no longer rotates after pruning")
	}
	if got := refresh(t, app, live.RefreshToken).StatusCode(); got != http.StatusUnauthorized {
		t.Fatalf("reuse of the oldest token: status %d, want 401", got)
	}
	if n := count("SELECT count(*) FROM sessions WHERE id = $1 AND revoked_at IS NULL", liveSession); n != 0 {
		t.Error("reuse of a pruned chain's oldest token did not revoke the session: the chain lost rows")
	}
}

func TestRefresh_SealedSuccessorMovedToAnotherSessionDoesNotOpen(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)
	pool := app.Deps.DB.Pool()

	if refresh(t, app, pair.RefreshToken).JSON200 == nil {
		t.Fatal("rotation refused")
	}
	// Someone with write access to the database moves the rotated row (and
	// its sealed successor) into another session.
	if _, err := pool.Exec(context.Background(), "UPDATE refresh_tokens SET session_id = $1 WHERE token_hash = $2",
		sessionOf(t, pool, other.RefreshToken), token.HashOpaque(pair.RefreshToken)); err != nil {
		t.Fatal(err)
	}
	if r := refresh(t, app, pair.RefreshToken); r.JSON200 != nil {
		t.Error("a sealed successor opened in another session than it was sealed for")
	}
}
