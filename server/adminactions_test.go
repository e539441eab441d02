package server_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
)

// sessionIDs are the ids of the user's live sessions as the admin API lists them.
func sessionIDs(t *testing.T, app *testkit.App, tok string, id uuid.UUID) []uuid.UUID {
	t.Helper()
	r := testkit.Must(app.Client.GetAdminUserWithResponse(context.Background(), id, testkit.Bearer(tok)))(t)
	if r.JSON200 == nil {
		t.Fatalf("get user: %d %s", r.StatusCode(), r.Body)
	}
	var ids []uuid.UUID
	for _, s := range r.JSON200.Sessions {
		ids = append(ids, s.Id)
	}
	return ids
}

// TestAdminSessions_EndOneOrAll: ending one session refuses its access
// token at once and leaves the others; another user's session and an
// unknown one are not found and stay; ending all refuses every token.
func TestAdminSessions_EndOneOrAll(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	adminUser, admin, _ := app.NewAdmin(t)
	u, first := app.NewUser(t)
	second := app.Login(t, u.Email, testkit.Password)
	stranger, strangerPair := app.NewUser(t)
	ids := sessionIDs(t, app, admin, u.Id)
	strangers := sessionIDs(t, app, admin, stranger.Id)
	if len(ids) != 2 || len(strangers) != 1 {
		t.Fatalf("sessions %v and %v", ids, strangers)
	}
	for name, sid := range map[string]uuid.UUID{"another user's session": strangers[0], "an unknown session": uuid.New()} {
		r := testkit.Must(app.Client.RevokeAdminUserSessionWithResponse(ctx, u.Id, sid, testkit.Bearer(admin)))(t)
		wantAnswer(t, name, r.StatusCode(), r.Body, http.StatusNotFound, "not-found")
	}
	me := getMe(t, app, strangerPair.AccessToken)
	wantAnswer(t, "the stranger after a refused revocation", me.StatusCode(), me.Body, http.StatusOK, "")

	r := testkit.Must(app.Client.RevokeAdminUserSessionWithResponse(ctx, u.Id, ids[0], testkit.Bearer(admin)))(t)
	wantAnswer(t, "one session", r.StatusCode(), r.Body, http.StatusNoContent, "")
	again := testkit.Must(app.Client.RevokeAdminUserSessionWithResponse(ctx, u.Id, ids[0], testkit.Bearer(admin)))(t)
	wantAnswer(t, "an ended session", again.StatusCode(), again.Body, http.StatusNotFound, "not-found")
	live := 0
	for _, access := range []string{first.AccessToken, second.AccessToken} {
		if getMe(t, app, access).StatusCode() == http.StatusOK {
			live++
		}
	}
	if left := sessionIDs(t, app, admin, u.Id); live != 1 || len(left) != 1 || left[0] == ids[0] {
		t.Fatalf("after ending one: %d tokens work, sessions %v", live, left)
	}

	all := testkit.Must(app.Client.RevokeAdminUserSessionsWithResponse(ctx, u.Id, testkit.Bearer(admin)))(t)
	wantAnswer(t, "every session", all.StatusCode(), all.Body, http.StatusNoContent, "")
	for _, access := range []string{first.AccessToken, second.AccessToken} {
		me := getMe(t, app, access)
		wantAnswer(t, "a token after ending every session", me.StatusCode(), me.Body, http.StatusUnauthorized, "unauthorized")
	}
	unknown := testkit.Must(app.Client.RevokeAdminUserSessionsWithResponse(ctx, uuid.New(), testkit.Bearer(admin)))(t)
	wantAnswer(t, "an unknown user", unknown.StatusCode(), unknown.Body, http.StatusNotFound, "not-found")

	actor := "admin:" + adminUser.Id.String()
	if got := actorsOf(adminEvents(t, app, admin, u.Id), "admin_sessions_revoked"); !slices.Equal(got, []string{"admin_sessions_revoked " + actor, "admin_sessions_revoked " + actor}) {
		t.Errorf("events %v", got)
	}
	if got := actorsOf(adminEvents(t, app, admin, stranger.Id), "admin_sessions_revoked"); got != nil {
		t.Errorf("the stranger's events %v", got)
	}
}

// TestAdminEvents_AdminsSeeWhoActedTheUserSeesWhatKind: actions by an
// admin and by a credential are events of the user; the admin API names
// the admin's user id and the credential's id, the user's own list says
// only "admin" or "service"; the user's own actions have no actor. The
// list pages like the user's own and refuses a cursor it did not issue.
func TestAdminEvents_AdminsSeeWhoActedTheUserSeesWhatKind(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	adminUser, admin, _ := app.NewAdmin(t)
	cred := app.NewCredential(t, "users:read", "users:write")
	u, _ := app.NewUser(t)
	patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{EmailVerified: ptr(true)})
	patched(t, app, cred, u.Id, client.UpdateAdminUserRequest{EmailVerified: ptr(false)})
	pair := app.Login(t, u.Email, testkit.Password)

	kinds := []string{"admin_user_updated", "login_succeeded", "registered"}
	want := []string{
		"login_succeeded -", "admin_user_updated service:" + credentialID(t, cred).String(),
		"admin_user_updated admin:" + adminUser.Id.String(), "login_succeeded -", "registered -",
	}
	if got := actorsOf(adminEvents(t, app, cred, u.Id), kinds...); !slices.Equal(got, want) {
		t.Errorf("admin API events %v, want %v", got, want)
	}
	want = []string{"login_succeeded -", "admin_user_updated service", "admin_user_updated admin", "login_succeeded -", "registered -"}
	if got := actorsOf(ownEvents(t, app, pair.AccessToken), kinds...); !slices.Equal(got, want) {
		t.Errorf("the user's own events %v, want %v", got, want)
	}

	var paged []client.Event
	p := client.ListAdminUserEventsParams{Limit: ptr(2)}
	for {
		r := testkit.Must(app.Client.ListAdminUserEventsWithResponse(ctx, u.Id, &p, testkit.Bearer(admin)))(t)
		if r.JSON200 == nil {
			t.Fatalf("page: %d %s", r.StatusCode(), r.Body)
		}
		paged = append(paged, r.JSON200.Events...)
		if r.JSON200.NextCursor == nil {
			break
		}
		p.Cursor = r.JSON200.NextCursor
	}
	if got := actorsOf(paged, kinds...); !slices.Equal(got, actorsOf(adminEvents(t, app, admin, u.Id), kinds...)) {
		t.Errorf("paged events %v", got)
	}
	overflow := strconv.FormatUint(1<<63, 10)
	r := testkit.Must(app.Client.ListAdminUserEventsWithResponse(ctx, u.Id, &client.ListAdminUserEventsParams{Cursor: &overflow}, testkit.Bearer(admin)))(t)
	wantAnswer(t, "a cursor that overflows", r.StatusCode(), r.Body, http.StatusBadRequest, "bad-request")
	r = testkit.Must(app.Client.ListAdminUserEventsWithResponse(ctx, uuid.New(), nil, testkit.Bearer(admin)))(t)
	wantAnswer(t, "an unknown user", r.StatusCode(), r.Body, http.StatusNotFound, "not-found")
}

// factorsOf is the user's own view of their factors: the TOTP factors and
// how many recovery codes remain.
func factorsOf(t *testing.T, app *testkit.App, access string) client.FactorList {
	t.Helper()
	r := testkit.Must(app.Client.ListFactorsWithResponse(context.Background(), testkit.Bearer(access)))(t)
	if r.JSON200 == nil {
		t.Fatalf("factors: %d %s", r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// TestAdminFactors_RemoveForALockedOutUser: an admin removes the user's
// authenticator app, then their passkey; each is mailed to the user as
// when they remove it themselves and recorded with the actor; the
// recovery codes go with the last second factor. Another user's factor or
// passkey, and an unknown id, are not found and stay.
func TestAdminFactors_RemoveForALockedOutUser(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	adminUser, admin, _ := app.NewAdmin(t)
	cred := app.NewCredential(t, "users:write", "users:read")
	u, pair := app.NewUser(t)
	access, factor, _, _ := addTwoFactors(t, app, pair.AccessToken)
	stranger, strangerPair := app.NewUser(t)
	strangerFactor, _, _ := app.EnrolTOTP(t, strangerPair.AccessToken)
	passkey := testkit.Must(app.Client.GetAdminUserWithResponse(ctx, u.Id, testkit.Bearer(admin)))(t).JSON200.Passkeys[0].Id
	if got := factorsOf(t, app, access); len(got.Factors) != 1 || got.RecoveryCodesRemaining != 10 {
		t.Fatalf("before: %+v", got)
	}

	for name, fid := range map[string]uuid.UUID{"another user's factor": strangerFactor.Id, "an unknown id": uuid.New()} {
		r := testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, u.Id, fid, testkit.Bearer(admin)))(t)
		wantAnswer(t, name, r.StatusCode(), r.Body, http.StatusNotFound, "not-found")
	}
	r := testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, stranger.Id, factor.Id, testkit.Bearer(admin)))(t)
	wantAnswer(t, "this user's factor under another user", r.StatusCode(), r.Body, http.StatusNotFound, "not-found")

	r = testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, u.Id, factor.Id, testkit.Bearer(admin)))(t)
	wantAnswer(t, "the authenticator app", r.StatusCode(), r.Body, http.StatusNoContent, "")
	if got := factorsOf(t, app, access); len(got.Factors) != 0 || got.RecoveryCodesRemaining != 10 {
		t.Fatalf("after the app went (the passkey stays): %+v", got)
	}
	r = testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, u.Id, passkey, testkit.Bearer(cred)))(t)
	wantAnswer(t, "the passkey", r.StatusCode(), r.Body, http.StatusNoContent, "")
	if got := factorsOf(t, app, access); got.RecoveryCodesRemaining != 0 {
		t.Fatalf("after the last factor went: %+v", got)
	}
	again := testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, u.Id, passkey, testkit.Bearer(admin)))(t)
	wantAnswer(t, "a removed passkey", again.StatusCode(), again.Body, http.StatusNotFound, "not-found")

	if n, p := outboxCount(t, app, mail.KindFactorRemoved, u.Email), outboxCount(t, app, mail.KindPasskeyRemoved, u.Email); n != 1 || p != 1 {
		t.Errorf("notices: %d factor removed, %d passkey removed, want 1 each", n, p)
	}
	if got := factorsOf(t, app, strangerPair.AccessToken); len(got.Factors) != 1 {
		t.Errorf("the stranger's factors after refused removals: %+v", got)
	}
	want := []string{"admin_factor_removed service:" + credentialID(t, cred).String(), "admin_factor_removed admin:" + adminUser.Id.String()}
	if got := actorsOf(adminEvents(t, app, admin, u.Id), "admin_factor_removed"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}
