package server_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
)

// queuedMail opens the newest mail of kind queued for to (the app's own
// database: no other test's worker sends it away).
func queuedMail(t *testing.T, app *testkit.App, kind, to string) (subject, text string) {
	t.Helper()
	var sealed string
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT subject, text_body FROM mail_outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1",
		to, kind).Scan(&subject, &sealed); err != nil {
		t.Fatalf("no %s mail to %s: %v", kind, to, err)
	}
	return subject, testkit.Must(app.Sealer.Open(sealed))(t)
}

// createUser is POST /admin/users by the holder of tok.
func createUser(t *testing.T, app *testkit.App, tok string, body client.CreateAdminUserRequest) *client.CreateAdminUserResponse {
	t.Helper()
	return testkit.Must(app.Client.CreateAdminUserWithResponse(context.Background(), body, testkit.Bearer(tok)))(t)
}

// TestAdminCreate_TheInvitationSetsThePasswordAndVerifiesTheAddress: an
// admin creates a user with a role; the account has no password and no
// verified address, nobody can log in to it, and the address gets an
// invitation whose link works for AUTHD_INVITE_TTL (not the hour a reset
// link lives). Setting the password through it lets the user log in, with
// the address verified; the link then is used up.
func TestAdminCreate_TheInvitationSetsThePasswordAndVerifiesTheAddress(t *testing.T) {
	t.Parallel()
	app := adminApp(t, true)
	ctx := context.Background()
	adminUser, admin, _ := app.NewAdmin(t)
	email := testkit.UniqueEmail()

	r := createUser(t, app, admin, client.CreateAdminUserRequest{Email: "  " + email + " ", Roles: &[]string{supportRole, supportRole}})
	if r.JSON201 == nil {
		t.Fatalf("create: %d %s", r.StatusCode(), r.Body)
	}
	u := *r.JSON201
	if u.Email != email || u.HasPassword || u.EmailVerifiedAt != nil || !u.IsActive || !slices.Equal(u.Roles, []string{supportRole}) {
		t.Fatalf("created user: %+v", u)
	}
	login := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: email, Password: testkit.Password}))(t)
	wantAnswer(t, "a login before the password is set", login.StatusCode(), login.Body, http.StatusUnauthorized, "invalid-credentials")

	subject, text := queuedMail(t, app, mail.KindInvitation, email)
	if subject != "You have been invited: choose your password" || !strings.Contains(text, email) ||
		!strings.Contains(text, "https://authd.example/reset-password?token=") || !strings.Contains(text, "expires in 72 hours") {
		t.Fatalf("invitation %q:\n%s", subject, text)
	}
	tok := testkit.LinkToken(t, text)
	app.Clock.Advance(48 * time.Hour) // long past a reset link's hour
	reset := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: "Invited-Horse-8"}))(t)
	wantAnswer(t, "setting the password", reset.StatusCode(), reset.Body, http.StatusNoContent, "")
	pair := app.Login(t, email, "Invited-Horse-8")
	me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(pair.AccessToken)))(t)
	if me.JSON200 == nil || me.JSON200.EmailVerifiedAt == nil {
		t.Fatalf("the invited user after setting the password: %d %s", me.StatusCode(), me.Body)
	}
	again := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: "Other-Horse-9"}))(t)
	wantAnswer(t, "the used invitation", again.StatusCode(), again.Body, http.StatusBadRequest, "invalid-token")

	// The admin's view names the admin; the user's only says an admin did
	// it. (The admin's access token expired with the clock's jump.)
	wantActor := "admin:" + adminUser.Id.String()
	got := actorsOf(adminEvents(t, app, app.NewCredential(t, "users:read"), u.Id), "admin_user_created", "role_granted", "password_reset")
	if want := []string{"password_reset -", "role_granted " + wantActor, "admin_user_created " + wantActor}; !slices.Equal(got, want) {
		t.Errorf("admin's events %v, want %v", got, want)
	}
	got = actorsOf(ownEvents(t, app, pair.AccessToken), "admin_user_created", "role_granted", "password_reset")
	if want := []string{"password_reset -", "role_granted admin", "admin_user_created admin"}; !slices.Equal(got, want) {
		t.Errorf("user's events %v, want %v", got, want)
	}
}

// TestAdminCreate_AnInvitationExpires: after AUTHD_INVITE_TTL the link is
// refused, and the account still has no password.
func TestAdminCreate_AnInvitationExpires(t *testing.T) {
	t.Parallel()
	app := adminApp(t, true)
	_, admin, _ := app.NewAdmin(t)
	email := testkit.UniqueEmail()
	if r := createUser(t, app, admin, client.CreateAdminUserRequest{Email: email}); r.JSON201 == nil {
		t.Fatalf("create: %d %s", r.StatusCode(), r.Body)
	}
	_, text := queuedMail(t, app, mail.KindInvitation, email)
	app.Clock.Advance(app.Deps.Admin.InviteTTL + time.Second)
	r := testkit.Must(app.Client.ResetPasswordWithResponse(context.Background(), client.ResetPasswordRequest{Token: testkit.LinkToken(t, text), NewPassword: "Invited-Horse-8"}))(t)
	wantAnswer(t, "an expired invitation", r.StatusCode(), r.Body, http.StatusBadRequest, "invalid-token")
}

// TestAdminCreate_RefusesATakenAddressAndUnknownRoles: an address with an
// account, in any case, is a 409 email-taken that leaves the account as it
// was; a role that is neither admin nor configured is a 422 naming roles.
// A service credential creates users too, and is named as the actor.
func TestAdminCreate_RefusesATakenAddressAndUnknownRoles(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	_, admin, _ := app.NewAdmin(t)
	taken, pair := app.NewUser(t)
	r := createUser(t, app, admin, client.CreateAdminUserRequest{Email: strings.ToUpper(taken.Email[:1]) + taken.Email[1:], Roles: &[]string{"admin"}})
	wantAnswer(t, "a taken address", r.StatusCode(), r.Body, http.StatusConflict, "email-taken")
	me := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(pair.AccessToken)))(t)
	if me.JSON200 == nil || (me.JSON200.Roles != nil && len(*me.JSON200.Roles) > 0) {
		t.Fatalf("the owner of the taken address after the refusal: %d %s", me.StatusCode(), me.Body)
	}
	email := testkit.UniqueEmail()
	r = createUser(t, app, admin, client.CreateAdminUserRequest{Email: email, Roles: &[]string{"support", "billing"}})
	wantAnswer(t, "an unknown role", r.StatusCode(), r.Body, http.StatusUnprocessableEntity, "validation")
	if !strings.Contains(string(r.Body), `"field":"roles"`) || !strings.Contains(string(r.Body), "billing") {
		t.Errorf("unknown role problem: %s", r.Body)
	}

	cred := app.NewCredential(t, "users:write", "users:read")
	r = createUser(t, app, cred, client.CreateAdminUserRequest{Email: email})
	if r.JSON201 == nil {
		t.Fatalf("create by a credential: %d %s", r.StatusCode(), r.Body)
	}
	got := actorsOf(adminEvents(t, app, cred, r.JSON201.Id), "admin_user_created")
	if want := []string{"admin_user_created service:" + credentialID(t, cred).String()}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}
