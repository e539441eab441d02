package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// addPasskeyWithout registers a new passkey of auth for the holder of
// access without a current_password, as an account without a password
// does; it must succeed.
func addPasskeyWithout(t *testing.T, app *testkit.App, access string, auth *testkit.Authenticator) (client.PasskeyAdded, *testkit.VirtualCredential) {
	t.Helper()
	opts := testkit.Must(app.Client.PasskeyRegistrationOptionsWithResponse(context.Background(), client.CurrentPasswordRequest{}, testkit.Bearer(access)))(t)
	if opts.JSON200 == nil {
		t.Fatalf("passkey options without current_password: %d %s", opts.StatusCode(), opts.Body)
	}
	cred, vc := auth.Register(t, opts.JSON200.Options, testkit.PasskeyOrigin)
	r := registerPasskey(t, app, access, cred, nil)
	if r.JSON201 == nil {
		t.Fatalf("register passkey: %d %s", r.StatusCode(), r.Body)
	}
	return *r.JSON201, vc
}

// currentPasswordCalls are the operations that take current_password,
// each sent with pw (nil: none) by the holder of access; id is the id an
// operation on one factor, passkey or identity names.
func currentPasswordCalls(t *testing.T, app *testkit.App, id uuid.UUID, pw *string) map[string]func(access string) answer {
	ctx, c, read := context.Background(), app.Client, reader(t)
	body := client.CurrentPasswordRequest{CurrentPassword: pw}
	return map[string]func(string) answer{
		"DELETE /users/me": func(access string) answer {
			return read(c.DeleteMe(ctx, nil, client.DeleteUserRequest{CurrentPassword: pw}, testkit.Bearer(access)))
		},
		"POST /users/me/factors/totp": func(access string) answer {
			return read(c.StartTotpEnrollment(ctx, client.StartTotpRequest{CurrentPassword: pw}, testkit.Bearer(access)))
		},
		"DELETE /users/me/factors/{id}": func(access string) answer {
			return read(c.DeleteFactor(ctx, id, body, testkit.Bearer(access)))
		},
		"POST /users/me/recovery-codes": func(access string) answer {
			return read(c.RegenerateRecoveryCodes(ctx, body, testkit.Bearer(access)))
		},
		"POST /users/me/passkeys/options": func(access string) answer {
			return read(c.PasskeyRegistrationOptions(ctx, body, testkit.Bearer(access)))
		},
		"DELETE /users/me/passkeys/{id}": func(access string) answer {
			return read(c.DeletePasskey(ctx, id, body, testkit.Bearer(access)))
		},
		"DELETE /users/me/identities/{ref}": func(access string) answer {
			return read(c.DeleteIdentity(ctx, id.String(), body, testkit.Bearer(access)))
		},
	}
}

// TestCurrentPassword_MissingIsA422OnAnAccountWithAPassword: every
// operation that takes current_password answers an account with a password
// that sent none with a 422 naming the field, before anything is done or
// counted (a missing field is not a guess).
func TestCurrentPassword_MissingIsA422OnAnAccountWithAPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits) // more changes than a minute's budget
	u, pair := app.NewUser(t)
	identity := app.LinkIdentity(t, u.Id, "google", "g-"+u.Email, u.Email, true)
	for what, call := range currentPasswordCalls(t, app, identity, nil) {
		a := call(pair.AccessToken)
		wantProblem(t, what, a.status, a.body, http.StatusUnprocessableEntity, "validation")
		if !strings.Contains(string(a.body), `"field":"current_password"`) {
			t.Errorf("%s: %s, want the field current_password named", what, a.body)
		}
	}
	// PUT /users/me requires it in its schema: the validator's 422.
	put := testkit.Must(app.Client.UpdateMeWithResponse(context.Background(), client.UpdateUserRequest{Password: ptr("Other-Horse-9")}, testkit.Bearer(pair.AccessToken)))(t)
	wantProblem(t, "PUT /users/me", put.StatusCode(), put.Body, http.StatusUnprocessableEntity, "validation")

	if got := emailOf(t, app, pair.AccessToken); got != u.Email {
		t.Errorf("the account after the refusals: %s", got)
	}
	if got := listIdentities(t, app, pair.AccessToken); len(got) != 1 {
		t.Errorf("identities after the refusals: %v", got)
	}
	if f := listFactors(t, app, pair.AccessToken); len(f.Factors) != 0 {
		t.Errorf("factors after the refusals: %+v", f.Factors)
	}
	if n := eventCount(t, app, pair.AccessToken, "login_failed"); n != 0 {
		t.Errorf("%d login_failed events for missing passwords, want 0", n)
	}
}

// TestPasswordless_ChangesNeedStepUpAloneAndRefuseAPassword: an account
// created by a federated login has no password. After a fresh login it
// enrols an authenticator app and adds a passkey without current_password;
// any current_password it sends is a wrong one (403, login_failed), and so
// is a password change through PUT /users/me (it sets one by a reset).
func TestPasswordless_ChangesNeedStepUpAloneAndRefuseAPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	userID, _, pair := passwordlessUser(t, app)
	guesses := 0
	for what, call := range currentPasswordCalls(t, app, uuid.New(), ptr(testkit.Password)) {
		a := call(pair.AccessToken)
		wantProblem(t, what+" with a current_password", a.status, a.body, http.StatusForbidden, "wrong-password")
		guesses++
	}
	put := testkit.Must(app.Client.UpdateMeWithResponse(context.Background(), client.UpdateUserRequest{CurrentPassword: "", Password: ptr("Other-Horse-9")}, testkit.Bearer(pair.AccessToken)))(t)
	wantProblem(t, "PUT /users/me with an empty current_password", put.StatusCode(), put.Body, http.StatusUnprocessableEntity, "validation")
	put = testkit.Must(app.Client.UpdateMeWithResponse(context.Background(), client.UpdateUserRequest{CurrentPassword: testkit.Password, Password: ptr("Other-Horse-9")}, testkit.Bearer(pair.AccessToken)))(t)
	wantProblem(t, "PUT /users/me setting a password", put.StatusCode(), put.Body, http.StatusForbidden, "wrong-password")
	guesses++
	if n := securityEvents(t, app, userID, "login_failed"); n != guesses {
		t.Errorf("%d login_failed events, want %d (one per current_password sent)", n, guesses)
	}

	start := testkit.Must(app.Client.StartTotpEnrollmentWithResponse(context.Background(), client.StartTotpRequest{}, testkit.Bearer(pair.AccessToken)))(t)
	if start.JSON201 == nil {
		t.Fatalf("enrolment without current_password: %d %s, want 201", start.StatusCode(), start.Body)
	}
	v := verifyFactor(t, app, pair.AccessToken, start.JSON201.Factor.Id, app.TOTP(t, start.JSON201.Secret, 0))
	if v.JSON200 == nil || v.JSON200.RecoveryCodes == nil {
		t.Fatalf("verify the first factor: %d %s", v.StatusCode(), v.Body)
	}
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*v.JSON200.RecoveryCodes)[0])})
	added, _ := addPasskeyWithout(t, app, raised.AccessToken, testkit.NewAuthenticator())
	if added.RecoveryCodes != nil {
		t.Errorf("a second factor came with recovery codes")
	}
	if r := testkit.Must(app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{}, testkit.Bearer(raised.AccessToken)))(t); r.StatusCode() != http.StatusNoContent {
		t.Errorf("deactivation without current_password: %d %s, want 204", r.StatusCode(), r.Body)
	}
}

// TestPasswordless_PasswordLoginAnswersLikeAWrongPassword: a password login
// to an account without a password is the 401 of a wrong password, counted
// and recorded as one, with no error logged (the empty hash is not broken).
func TestPasswordless_PasswordLoginAnswersLikeAWrongPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()
	userID := app.FederatedUser(t, email, true)
	u, _ := app.NewUser(t)
	ctx := context.Background()
	for _, pw := range []string{testkit.Password, "Any-Horse-1"} {
		r := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: email, Password: pw}))(t)
		wrong := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: u.Email, Password: "Wrong-Horse-8"}))(t)
		if got, want := refusalOf(r.StatusCode(), r.Body), refusalOf(wrong.StatusCode(), wrong.Body); got != want || got.status != http.StatusUnauthorized {
			t.Errorf("password login without a password: %+v, want a wrong password's %+v", got, want)
		}
	}
	if n := securityEvents(t, app, userID, "login_failed"); n != 2 {
		t.Errorf("%d login_failed events, want 2", n)
	}
	if lines := app.Logs.Lines(`"level":"ERROR"`); len(lines) != 0 {
		t.Errorf("errors logged: %v", lines)
	}
}

// TestPasswordless_StepUpWithAPasswordIsAWrongPassword: the account has no
// password to step up with (it logs in through its provider again): a
// password is refused as a wrong one, and the session stays stale.
func TestPasswordless_StepUpWithAPasswordIsAWrongPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	userID, identity, pair := passwordlessUser(t, app)
	app.Clock.Advance(11 * time.Minute)
	r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Password: ptr(testkit.Password)})
	wantProblem(t, "step-up with a password", r.StatusCode(), r.Body, http.StatusForbidden, "wrong-password")
	if n := securityEvents(t, app, userID, "login_failed"); n != 1 {
		t.Errorf("%d login_failed events, want 1", n)
	}
	if n := securityEvents(t, app, userID, "step_up"); n != 0 {
		t.Errorf("%d step_up events, want 0", n)
	}
	a := deleteIdentity(t, app, pair.AccessToken, identity, nil)
	wantProblem(t, "a sensitive change after the refused step-up", a.StatusCode(), a.Body, http.StatusUnauthorized, "step-up-required")
	if lines := app.Logs.Lines(`"level":"ERROR"`); len(lines) != 0 {
		t.Errorf("errors logged: %v", lines)
	}
}
