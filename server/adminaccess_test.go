package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// adminCall is one admin operation on subject, by the holder of tok.
type adminCall struct {
	name, scope string
	call        func(tok string) (int, []byte)
}

// adminCalls are the users operations of the admin API (erasure aside), on
// subject; each would succeed (or find nothing) for an admin.
func adminCalls(t *testing.T, app *testkit.App, subject uuid.UUID) []adminCall {
	ctx := context.Background()
	return []adminCall{
		{"list", "users:read", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.ListAdminUsersWithResponse(ctx, &client.ListAdminUsersParams{Limit: ptr(1)}, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"get", "users:read", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.GetAdminUserWithResponse(ctx, subject, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"events", "users:read", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.ListAdminUserEventsWithResponse(ctx, subject, nil, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"create", "users:write", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.CreateAdminUserWithResponse(ctx, client.CreateAdminUserRequest{Email: testkit.UniqueEmail()}, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"update", "users:write", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.UpdateAdminUserWithResponse(ctx, subject, client.UpdateAdminUserRequest{EmailVerified: ptr(true)}, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"revoke sessions", "users:write", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.RevokeAdminUserSessionsWithResponse(ctx, subject, testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"revoke session", "users:write", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.RevokeAdminUserSessionWithResponse(ctx, subject, uuid.New(), testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
		{"remove factor", "users:write", func(tok string) (int, []byte) {
			r := testkit.Must(app.Client.DeleteAdminUserFactorWithResponse(ctx, subject, uuid.New(), testkit.Bearer(tok)))(t)
			return r.StatusCode(), r.Body
		}},
	}
}

// TestAdminGate_EveryUsersOperationRefusesWhoIsNotLetIn: no token is a 401;
// a user without the admin role a 403 forbidden; an admin logged in
// without a second factor a 403 mfa-required; a credential without the
// operation's scope a 403 insufficient-scope. An admin with aal 2 and a
// credential with the scope are let in. Nothing refused changed anything.
func TestAdminGate_EveryUsersOperationRefusesWhoIsNotLetIn(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	subject, subjectPair := app.NewUser(t)
	_, user := app.NewUser(t)
	aal1, aal1Pair := app.NewUser(t)
	app.GrantRole(t, aal1.Id, "admin")
	_, admin, _ := app.NewAdmin(t)
	for _, op := range adminCalls(t, app, subject.Id) {
		status, body := op.call("")
		wantAnswer(t, op.name+" without a token", status, body, http.StatusUnauthorized, "unauthorized")
		status, body = op.call(user.AccessToken)
		wantAnswer(t, op.name+" by a user", status, body, http.StatusForbidden, "forbidden")
		status, body = op.call(aal1Pair.AccessToken)
		wantAnswer(t, op.name+" by an admin at aal 1", status, body, http.StatusForbidden, "mfa-required")
		other := map[string]string{"users:read": "users:write", "users:write": "users:read"}[op.scope]
		status, body = op.call(app.NewCredential(t, other, "users:erase"))
		wantAnswer(t, op.name+" by a credential with "+other, status, body, http.StatusForbidden, "insufficient-scope")
	}
	// Nothing refused touched the subject: their session lives, no event names an admin.
	if r := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(subjectPair.AccessToken)))(t); r.JSON200 == nil {
		t.Fatalf("the subject after refused calls: %d %s", r.StatusCode(), r.Body)
	}
	if got := actorsOf(ownEvents(t, app, subjectPair.AccessToken), "admin_user_updated", "admin_sessions_revoked"); got != nil {
		t.Fatalf("refused calls left events: %v", got)
	}
	for _, op := range adminCalls(t, app, subject.Id) {
		for who, tok := range map[string]string{"an admin at aal 2": admin, "a credential with " + op.scope: app.NewCredential(t, op.scope)} {
			if status, body := op.call(tok); status == http.StatusUnauthorized || status == http.StatusForbidden {
				t.Errorf("%s by %s: %d %s, want it let in", op.name, who, status, body)
			}
		}
	}
}

// TestAdminGate_MFANotRequiredLetsAnAal1AdminIn: with
// AUTHD_ADMIN_REQUIRE_MFA=false an admin who logged in with the password
// alone is let in; a user without the role still is not.
func TestAdminGate_MFANotRequiredLetsAnAal1AdminIn(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false, func(d *server.Deps) { d.Admin.RequireMFA = false })
	u, pair := app.NewUser(t)
	_, user := app.NewUser(t)
	app.GrantRole(t, u.Id, "admin")
	r := testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), nil, testkit.Bearer(pair.AccessToken)))(t)
	wantAnswer(t, "an aal 1 admin", r.StatusCode(), r.Body, http.StatusOK, "")
	r = testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), nil, testkit.Bearer(user.AccessToken)))(t)
	wantAnswer(t, "a user", r.StatusCode(), r.Body, http.StatusForbidden, "forbidden")
}

// TestAdminGate_RevokedAndExpiredCredentialsAreRefused: a credential works
// until it is revoked, or until its expiry by the app's clock; then it is
// a 401 like a bad token, and so is one with a wrong secret.
func TestAdminGate_RevokedAndExpiredCredentialsAreRefused(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	list := func(tok string) (int, []byte) {
		t.Helper()
		r := testkit.Must(app.Client.ListAdminUsersWithResponse(ctx, &client.ListAdminUsersParams{Limit: ptr(1)}, testkit.Bearer(tok)))(t)
		return r.StatusCode(), r.Body
	}
	revoked := app.NewCredential(t, "users:read")
	status, body := list(revoked)
	wantAnswer(t, "before the revocation", status, body, http.StatusOK, "")
	if _, err := app.Deps.DB.Queries().RevokeServiceCredential(ctx, db.RevokeServiceCredentialParams{NameOrID: credentialID(t, revoked).String(), Now: app.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	status, body = list(revoked)
	wantAnswer(t, "a revoked credential", status, body, http.StatusUnauthorized, "unauthorized")

	_, expiring, err := app.Server.NewServiceCredential(ctx, "expiring-"+uuid.NewString()[:8], []string{"users:read"}, app.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	status, body = list(expiring)
	wantAnswer(t, "before the expiry", status, body, http.StatusOK, "")
	app.Clock.Advance(time.Hour)
	status, body = list(expiring)
	wantAnswer(t, "an expired credential", status, body, http.StatusUnauthorized, "unauthorized")

	live := app.NewCredential(t, "users:read")
	wrong := live[:len(live)-4] + "AAAA"
	if wrong == live {
		wrong = live[:len(live)-4] + "BBBB"
	}
	status, body = list(wrong)
	wantAnswer(t, "a wrong secret", status, body, http.StatusUnauthorized, "unauthorized")
}

// TestAdminGate_ACredentialCannotReachTheAdminTier: a credential with every
// scope manages ordinary accounts and their relying services' roles, but
// cannot grant the admin role (which would give whoever reads the invited
// address every scope) nor change, end the sessions of, strip the factors
// of or erase an admin: each is a 403 forbidden that changes nothing. It
// still reads an admin's account.
func TestAdminGate_ACredentialCannotReachTheAdminTier(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	cred := app.NewCredential(t, "users:read", "users:write", "users:erase")
	admin, adminToken, _ := app.NewAdmin(t)

	for _, op := range adminCalls(t, app, admin.Id) {
		want, problem := http.StatusForbidden, "forbidden"
		if op.scope == "users:read" || op.name == "create" {
			want, problem = http.StatusOK, ""
			if op.name == "create" {
				want = http.StatusCreated
			}
		}
		status, body := op.call(cred)
		wantAnswer(t, "a credential's "+op.name+" of an admin", status, body, want, problem)
	}
	r := eraseByAdmin(t, app, cred, admin.Id)
	wantAnswer(t, "a credential's erasure of an admin", r.StatusCode(), r.Body, http.StatusForbidden, "forbidden")
	me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(adminToken)))(t)
	wantAnswer(t, "the admin after the refusals", me.StatusCode(), me.Body, http.StatusOK, "")

	user, _ := app.NewUser(t)
	p := patchUser(t, app, cred, user.Id, client.UpdateAdminUserRequest{Roles: &[]string{"admin"}})
	wantAnswer(t, "a credential granting admin", p.StatusCode(), p.Body, http.StatusForbidden, "forbidden")
	if got := patched(t, app, cred, user.Id, client.UpdateAdminUserRequest{Roles: &[]string{supportRole}}); !slices.Equal(got.Roles, []string{supportRole}) {
		t.Errorf("a credential granting %s: roles %v", supportRole, got.Roles)
	}
	invited := testkit.UniqueEmail()
	c := createUser(t, app, cred, client.CreateAdminUserRequest{Email: invited, Roles: &[]string{supportRole, "admin"}})
	wantAnswer(t, "a credential creating an admin", c.StatusCode(), c.Body, http.StatusForbidden, "forbidden")
	if _, err := app.Deps.DB.Queries().GetUserByEmail(ctx, invited); err == nil {
		t.Error("the refused creation made the account")
	}
}

// TestAdminGate_CredentialUseIsRecordedToTheMinute: the first use of a
// credential is recorded, a second within the minute writes nothing, and a
// use a minute later is recorded again.
func TestAdminGate_CredentialUseIsRecordedToTheMinute(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	tok := app.NewCredential(t, "users:read")
	lastUsed := func() time.Time {
		t.Helper()
		var at *time.Time
		if err := app.Deps.DB.Pool().QueryRow(ctx, "SELECT last_used_at FROM service_credentials WHERE id = $1", credentialID(t, tok)).Scan(&at); err != nil {
			t.Fatal(err)
		}
		if at == nil {
			t.Fatal("the credential's use was not recorded")
		}
		return *at
	}
	use := func() {
		t.Helper()
		r := testkit.Must(app.Client.ListAdminUsersWithResponse(ctx, &client.ListAdminUsersParams{Limit: ptr(1)}, testkit.Bearer(tok)))(t)
		wantAnswer(t, "a live credential", r.StatusCode(), r.Body, http.StatusOK, "")
	}
	use()
	first := lastUsed()
	app.Clock.Advance(30 * time.Second)
	use()
	if got := lastUsed(); !got.Equal(first) {
		t.Errorf("a use within the minute moved last_used_at from %s to %s", first, got)
	}
	app.Clock.Advance(31 * time.Second)
	use()
	if got := lastUsed(); !got.After(first.Add(time.Minute)) {
		t.Errorf("a use a minute later left last_used_at at %s, first use %s", got, first)
	}
}
