package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// supportRole is the role besides admin the admin tests' apps know
// (AUTHD_ROLES=support).
const supportRole = "support"

var withSupportRole testkit.Option = func(d *server.Deps) { d.Admin.Roles = []string{supportRole} }

// adminApp is an app for the admin API's tests: fast hashing and the
// support role, and its own database when the test needs to know every
// user or every admin in it.
func adminApp(t *testing.T, isolated bool, opts ...testkit.Option) *testkit.App {
	t.Helper()
	opts = append([]testkit.Option{testkit.FastHashing, withSupportRole}, opts...)
	if isolated {
		opts = append(opts, testkit.IsolatedDatabase(t))
	}
	return testkit.NewApp(t, opts...)
}

// wantAnswer fails the test unless an answer has status and, when problem
// is set, is the problem of that type.
func wantAnswer(t *testing.T, what string, status int, body []byte, wantStatus int, problem string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("%s: status %d, want %d: %s", what, status, wantStatus, body)
	}
	if problem != "" && !strings.Contains(string(body), `"type":"https://authd.dev/problems/`+problem+`"`) {
		t.Fatalf("%s: %s, want problem %s", what, body, problem)
	}
}

// credentialID is the id a service credential's token names (authd_sc_<id>_<secret>).
func credentialID(t *testing.T, tok string) uuid.UUID {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(tok, "authd_sc_")[:32])
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Must(uuid.FromBytes(b))(t)
}

// patchUser is PATCH /admin/users/{id} by the holder of tok.
func patchUser(t *testing.T, app *testkit.App, tok string, id uuid.UUID, body client.UpdateAdminUserRequest) *client.UpdateAdminUserResponse {
	t.Helper()
	return testkit.Must(app.Client.UpdateAdminUserWithResponse(context.Background(), id, body, testkit.Bearer(tok)))(t)
}

// patched is PATCH /admin/users/{id}, which must answer 200 with the user.
func patched(t *testing.T, app *testkit.App, tok string, id uuid.UUID, body client.UpdateAdminUserRequest) client.AdminUser {
	t.Helper()
	r := patchUser(t, app, tok, id, body)
	if r.JSON200 == nil {
		t.Fatalf("patch %+v: %d %s", body, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// adminEvents is every event of the user as the admin API lists them, newest first.
func adminEvents(t *testing.T, app *testkit.App, tok string, id uuid.UUID) []client.Event {
	t.Helper()
	r := testkit.Must(app.Client.ListAdminUserEventsWithResponse(context.Background(), id, &client.ListAdminUserEventsParams{Limit: ptr(100)}, testkit.Bearer(tok)))(t)
	if r.JSON200 == nil {
		t.Fatalf("admin events: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Events
}

// ownEvents is every event of the holder of access as they list them, newest first.
func ownEvents(t *testing.T, app *testkit.App, access string) []client.Event {
	t.Helper()
	r := testkit.Must(app.Client.ListEventsWithResponse(context.Background(), &client.ListEventsParams{Limit: ptr(100)}, testkit.Bearer(access)))(t)
	if r.JSON200 == nil {
		t.Fatalf("own events: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Events
}

// actorsOf lists "kind actor" for each event of kind in events ("-" for
// no actor), newest first.
func actorsOf(events []client.Event, kinds ...string) []string {
	var out []string
	for _, e := range events {
		for _, k := range kinds {
			if e.Kind == k {
				actor := "-"
				if e.Actor != nil {
					actor = *e.Actor
				}
				out = append(out, fmt.Sprintf("%s %s", e.Kind, actor))
			}
		}
	}
	return out
}

// addTwoFactors gives the holder of access an authenticator app and a
// passkey, and returns an access token of the same session stepped up with
// the app's code (the code of the current step is spent).
func addTwoFactors(t *testing.T, app *testkit.App, access string) (stepped string, factor client.Factor, secret string, passkey []byte) {
	t.Helper()
	factor, secret, _ = app.EnrolTOTP(t, access)
	stepped = stepUpOK(t, app, access, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))}).AccessToken
	return stepped, factor, secret, addPasskeyID(t, app, stepped, testkit.NewAuthenticator())
}
