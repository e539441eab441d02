package server_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// TestAdminUpdate_DisablingEndsAccessAtOnce: the user's live access token
// is refused on its very next request, the refresh token too, and the
// password no longer logs in; enabling the account lets them log in again
// (the old sessions stay ended).
func TestAdminUpdate_DisablingEndsAccessAtOnce(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	_, admin, _ := app.NewAdmin(t)
	u, pair := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)
	me := getMe(t, app, pair.AccessToken)
	wantAnswer(t, "before", me.StatusCode(), me.Body, http.StatusOK, "")

	if got := patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{Active: ptr(false)}); got.IsActive {
		t.Fatalf("after disabling: %+v", got)
	}
	for _, access := range []string{pair.AccessToken, other.AccessToken} {
		me := getMe(t, app, access)
		wantAnswer(t, "a live access token of a disabled user", me.StatusCode(), me.Body, http.StatusUnauthorized, "unauthorized")
	}
	ref := testkit.Must(app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken}))(t)
	wantAnswer(t, "a refresh of a disabled user", ref.StatusCode(), ref.Body, http.StatusUnauthorized, "invalid-refresh-token")
	login := testkit.Must(app.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email)))(t)
	wantAnswer(t, "a login of a disabled user", login.StatusCode(), login.Body, http.StatusUnauthorized, "invalid-credentials")

	if got := patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{Active: ptr(true)}); !got.IsActive {
		t.Fatalf("after enabling: %+v", got)
	}
	me = getMe(t, app, pair.AccessToken)
	wantAnswer(t, "an old access token after enabling", me.StatusCode(), me.Body, http.StatusUnauthorized, "unauthorized")
	app.Login(t, u.Email, testkit.Password)
}

// TestAdminUpdate_SetsVerifiedAndReplacesRoles: each field sent changes and
// no other; each role added or removed is an event, with the actor; an
// unknown role changes nothing (422), nor does an unknown user (404).
func TestAdminUpdate_SetsVerifiedAndReplacesRoles(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	adminUser, admin, _ := app.NewAdmin(t)
	u, pair := app.NewUser(t)

	got := patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{EmailVerified: ptr(true)})
	if got.EmailVerifiedAt == nil || !got.IsActive || len(got.Roles) != 0 {
		t.Fatalf("verified: %+v", got)
	}
	verifiedAt := *got.EmailVerifiedAt
	if again := patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{EmailVerified: ptr(true)}); !again.EmailVerifiedAt.Equal(verifiedAt) {
		t.Errorf("verified twice: %v, want the first time %v kept", again.EmailVerifiedAt, verifiedAt)
	}
	if got = patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{Roles: &[]string{"support", "admin"}}); !slices.Equal(got.Roles, []string{"admin", "support"}) || got.EmailVerifiedAt == nil {
		t.Fatalf("roles set: %+v", got)
	}
	if got = patched(t, app, admin, u.Id, client.UpdateAdminUserRequest{Roles: &[]string{"support"}, EmailVerified: ptr(false)}); !slices.Equal(got.Roles, []string{"support"}) || got.EmailVerifiedAt != nil {
		t.Fatalf("admin removed, unverified: %+v", got)
	}
	r := patchUser(t, app, admin, u.Id, client.UpdateAdminUserRequest{Roles: &[]string{"admin", "root"}})
	wantAnswer(t, "an unknown role", r.StatusCode(), r.Body, http.StatusUnprocessableEntity, "validation")
	r = patchUser(t, app, admin, u.Id, client.UpdateAdminUserRequest{})
	wantAnswer(t, "no field", r.StatusCode(), r.Body, http.StatusUnprocessableEntity, "validation")
	r = patchUser(t, app, admin, uuid.New(), client.UpdateAdminUserRequest{Active: ptr(false)})
	wantAnswer(t, "an unknown user", r.StatusCode(), r.Body, http.StatusNotFound, "not-found")

	actor := "admin:" + adminUser.Id.String()
	events := adminEvents(t, app, admin, u.Id)
	want := []string{
		"admin_user_updated " + actor, "role_revoked " + actor, "admin_user_updated " + actor,
		"role_granted " + actor, "role_granted " + actor, "admin_user_updated " + actor, "admin_user_updated " + actor,
	}
	if got := actorsOf(events, "admin_user_updated", "role_granted", "role_revoked"); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if got := actorsOf(ownEvents(t, app, pair.AccessToken), "role_revoked"); !slices.Equal(got, []string{"role_revoked admin"}) {
		t.Errorf("the user's own events %v", got)
	}
}

// TestAdminUpdate_TheLastActiveAdminStays: the only active admin can be
// neither demoted nor disabled, by themselves or by a credential (409
// last-admin, nothing changed). With a second admin, one may go; the
// demoted one's token is refused by the admin API at once.
func TestAdminUpdate_TheLastActiveAdminStays(t *testing.T) {
	t.Parallel()
	app := adminApp(t, true) // the only admins are this test's
	a, aTok, _ := app.NewAdmin(t)
	cred := app.NewCredential(t, "users:write", "users:read")
	for who, tok := range map[string]string{"the admin": aTok, "a credential": cred} {
		for what, body := range map[string]client.UpdateAdminUserRequest{
			"demoted":              {Roles: &[]string{"support"}},
			"disabled":             {Active: ptr(false)},
			"disabled and demoted": {Active: ptr(false), Roles: &[]string{}},
		} {
			r := patchUser(t, app, tok, a.Id, body)
			wantAnswer(t, "the last admin "+what+" by "+who, r.StatusCode(), r.Body, http.StatusConflict, "last-admin")
		}
	}
	// A change that keeps the admin is fine.
	patched(t, app, aTok, a.Id, client.UpdateAdminUserRequest{Roles: &[]string{"admin", "support"}, Active: ptr(true)})

	b, bTok, _ := app.NewAdmin(t)
	patched(t, app, aTok, b.Id, client.UpdateAdminUserRequest{Roles: &[]string{}})
	list := testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), nil, testkit.Bearer(bTok)))(t)
	wantAnswer(t, "the demoted admin's token", list.StatusCode(), list.Body, http.StatusForbidden, "forbidden")
	r := patchUser(t, app, aTok, a.Id, client.UpdateAdminUserRequest{Active: ptr(false)})
	wantAnswer(t, "the last admin again", r.StatusCode(), r.Body, http.StatusConflict, "last-admin")

	// A disabled admin is not an active one: with b an admin again but
	// disabled, a is still the last.
	patched(t, app, aTok, b.Id, client.UpdateAdminUserRequest{Roles: &[]string{"admin"}, Active: ptr(false)})
	r = patchUser(t, app, aTok, a.Id, client.UpdateAdminUserRequest{Roles: &[]string{}})
	wantAnswer(t, "the last active admin beside a disabled one", r.StatusCode(), r.Body, http.StatusConflict, "last-admin")
}

// TestAdminUpdate_TwoAdminsDemotingEachOtherAtOnceLeaveOne: the two only
// admins each demote the other at the same time; each round, exactly one
// change succeeds and one active admin remains. (The loser is refused 409
// last-admin, or 403 when the winner's change had already ended their
// being an admin.) A credential may not demote an admin at all
// (TestAdminGate_ACredentialCannotReachTheAdminTier).
func TestAdminUpdate_TwoAdminsDemotingEachOtherAtOnceLeaveOne(t *testing.T) {
	t.Parallel()
	app := adminApp(t, true) // the only admins are this test's
	a, aTok, _ := app.NewAdmin(t)
	b, bTok, _ := app.NewAdmin(t)
	for round := range 6 {
		app.GrantRole(t, a.Id, "admin")
		app.GrantRole(t, b.Id, "admin")
		tokA, tokB := bTok, aTok // b demotes a, a demotes b
		statuses := make([]int, 2)
		var wg sync.WaitGroup
		for i, job := range []struct {
			tok     string
			subject uuid.UUID
		}{{tokA, a.Id}, {tokB, b.Id}} {
			wg.Go(func() {
				r, err := app.Client.UpdateAdminUserWithResponse(context.Background(), job.subject, client.UpdateAdminUserRequest{Roles: &[]string{}}, testkit.Bearer(job.tok))
				if err != nil {
					t.Error(err)
					return
				}
				statuses[i] = r.StatusCode()
			})
		}
		wg.Wait()
		slices.Sort(statuses)
		refused := http.StatusConflict
		if statuses[1] == http.StatusForbidden {
			refused = http.StatusForbidden
		}
		if !slices.Equal(statuses, []int{http.StatusOK, refused}) {
			t.Fatalf("round %d: statuses %v, want one 200 and one refusal", round, statuses)
		}
		admins := listUsers(t, app, app.NewCredential(t, "users:read"), client.ListAdminUsersParams{Role: ptr("admin"), Active: ptr(true)})
		if len(admins.Users) != 1 {
			t.Fatalf("round %d: active admins %v, want one", round, emails(admins))
		}
	}
}
