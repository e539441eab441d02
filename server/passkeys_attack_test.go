package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/server/testkit"
)

// Transports are what the browser says: only the ones WebAuthn defines are
// kept, once each; a NUL or a long list is not stored (a NUL was a 500).
func TestPasskeyAttack_TransportsAreFiltered(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	auth := testkit.NewAuthenticator()
	auth.Transports = []string{"usb\u0000x", "internal", "\u202egnp.exe", "internal", "hybrid"}
	for range 3000 {
		auth.Transports = append(auth.Transports, "usb")
	}
	cred, _ := auth.Register(t, passkeyCreation(t, app, pair.AccessToken), testkit.PasskeyOrigin)
	r := registerPasskey(t, app, pair.AccessToken, cred, nil)
	if r.JSON201 == nil {
		t.Fatalf("register: %d %s", r.StatusCode(), r.Body)
	}
	if got := r.JSON201.Passkey.Transports; len(got) != 3 || got[0] != "usb" || got[1] != "hybrid" || got[2] != "internal" {
		t.Errorf("stored transports %q, want [usb hybrid internal]", got)
	}
}

// The options of a step-up with a passkey store a ceremony each time: they
// spend the caller's budget, so one access token cannot fill the table.
func TestPasskeyAttack_StepUpOptionsAreLimited(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	addPasskey(t, app, pair.AccessToken, testkit.NewAuthenticator(), nil)
	statuses := map[int]int{}
	for range 30 {
		r := testkit.Must(app.Client.StepUpPasskeyOptionsWithResponse(context.Background(), testkit.Bearer(pair.AccessToken)))(t)
		statuses[r.StatusCode()]++
	}
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusOK] > 10 {
		t.Errorf("30 step-up options: %v, want 429 after the per-user budget", statuses)
	}
}

// With verification required, an account whose address is not verified
// cannot log in with a passkey any more than with its password.
func TestPasskeyAttack_UnverifiedAddressCannotLogIn(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t) // registered before verification was required
	auth := testkit.NewAuthenticator()
	addPasskey(t, app, pair.AccessToken, auth, nil)
	strict := testkit.NewApp(t, testkit.FastHashing, requireVerified)
	if r := passkeyLogin(t, strict, auth.Assert(t, loginOptions(t, strict), testkit.PasskeyOrigin)); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("passkey login of an unverified address: %d %s, want 401", r.StatusCode(), r.Body)
	}
	if r := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)); r.StatusCode() != http.StatusOK {
		t.Errorf("the same passkey without the requirement: %d %s", r.StatusCode(), r.Body)
	}
}

// A registration must finish while the step-up that allowed it holds: its
// ceremony ends with the session's step-up window, not 5 minutes later.
func TestPasskeyAttack_RegistrationEndsWithTheStepUpWindow(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	app.Clock.Advance(9*time.Minute + 50*time.Second) // the login is still recent enough
	cred, _ := testkit.NewAuthenticator().Register(t, passkeyCreation(t, app, pair.AccessToken), testkit.PasskeyOrigin)
	app.Clock.Advance(time.Minute) // past the 10-minute step-up age, within the 5-minute ceremony
	if r := registerPasskey(t, app, pair.AccessToken, cred, nil); r.StatusCode() == http.StatusCreated {
		t.Errorf("a registration finished after its step-up expired: %d", r.StatusCode())
	}
	if n := len(listPasskeys(t, app, pair.AccessToken)); n != 0 {
		t.Errorf("%d passkeys stored", n)
	}
}
