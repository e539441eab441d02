package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
)

// listIdentities is GET /users/me/identities, which must answer 200.
func listIdentities(t *testing.T, app *testkit.App, access string) []client.Identity {
	t.Helper()
	r := testkit.Must(app.Client.ListIdentitiesWithResponse(context.Background(), testkit.Bearer(access)))(t)
	if r.JSON200 == nil {
		t.Fatalf("list identities: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Identities
}

// deleteIdentity is DELETE /users/me/identities/{ref} of id with current_password
// pw (nil: none).
func deleteIdentity(t *testing.T, app *testkit.App, access string, id uuid.UUID, pw *string) *client.DeleteIdentityResponse {
	t.Helper()
	return deleteIdentityRef(t, app, access, id.String(), pw)
}

// deleteIdentityRef is DELETE /users/me/identities/{ref} with any ref.
func deleteIdentityRef(t *testing.T, app *testkit.App, access, ref string, pw *string) *client.DeleteIdentityResponse {
	t.Helper()
	return testkit.Must(app.Client.DeleteIdentityWithResponse(context.Background(), ref,
		client.CurrentPasswordRequest{CurrentPassword: pw}, testkit.Bearer(access)))(t)
}

// wantProblem fails unless the answer is status with the problem type slug.
func wantProblem(t *testing.T, what string, status int, body []byte, wantStatus int, slug string) {
	t.Helper()
	if status != wantStatus || problemSlug(body) != slug {
		t.Errorf("%s: %d %s, want %d %s", what, status, body, wantStatus, slug)
	}
}

// identityIDs are the ids of a list of identities, in its order.
func identityIDs(list []client.Identity) []uuid.UUID {
	ids := make([]uuid.UUID, len(list))
	for i, id := range list {
		ids[i] = id.Id
	}
	return ids
}

// passwordlessUser is an account a federated login created, with one
// identity at "corp", and a fresh session of it.
func passwordlessUser(t *testing.T, app *testkit.App) (uuid.UUID, uuid.UUID, client.TokenPair) {
	t.Helper()
	email := testkit.UniqueEmail()
	id := app.FederatedUser(t, email, true)
	identity := app.LinkIdentity(t, id, "corp", "sub-"+email, email, true)
	return id, identity, app.FederatedSession(t, id)
}

// TestIdentities_ListShowsTheCallersOwnOldestFirst: each user sees only the
// identities linked to it, oldest first, with what the provider asserted
// (and never the subject, which the spec does not show).
func TestIdentities_ListShowsTheCallersOwnOldestFirst(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	other, otherPair := app.NewUser(t)
	first := app.LinkIdentity(t, u.Id, "google", "g-"+u.Email, u.Email, true)
	app.Clock.Advance(time.Second)
	second := app.LinkIdentity(t, u.Id, "corp", "c-"+u.Email, "ada@corp.example", false)
	theirs := app.LinkIdentity(t, other.Id, "google", "g-"+other.Email, other.Email, true)

	list := listIdentities(t, app, pair.AccessToken)
	if got := identityIDs(list); len(got) != 2 || got[0] != first || got[1] != second {
		t.Fatalf("identities %v, want [%s %s] (oldest first, not %s)", got, first, second, theirs)
	}
	if g := list[0]; g.Provider != "google" || g.Email != u.Email || !g.EmailVerified || g.LastLoginAt != nil {
		t.Errorf("first identity %+v", g)
	}
	if c := list[1]; c.Provider != "corp" || c.Email != "ada@corp.example" || c.EmailVerified {
		t.Errorf("second identity %+v", c)
	}
	if got := identityIDs(listIdentities(t, app, otherPair.AccessToken)); len(got) != 1 || got[0] != theirs {
		t.Errorf("the other user's identities %v, want only %s", got, theirs)
	}
	_, stranger := app.NewUser(t)
	if got := listIdentities(t, app, stranger.AccessToken); len(got) != 0 {
		t.Errorf("a user without identities lists %v", got)
	}
	if r := testkit.Must(app.Client.ListIdentitiesWithResponse(context.Background()))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", r.StatusCode())
	}
}

// TestIdentities_AnotherUsersOrAnUnknownIdentityIsNotFound: naming another
// user's identity (even with the caller's own right password) answers the
// 404 of an unknown one and removes nothing; so does a ref that is no id.
func TestIdentities_AnotherUsersOrAnUnknownIdentityIsNotFound(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	victim, victimIdentity, victimPair := passwordlessUser(t, app)
	refs := map[string]string{
		"another user's identity": victimIdentity.String(),
		"an unknown identity":     uuid.New().String(),
		"a provider's name":       "corp",
		"not an id at all":        "x' OR '1'='1",
	}
	for what, ref := range refs {
		r := deleteIdentityRef(t, app, pair.AccessToken, ref, ptr(testkit.Password))
		wantProblem(t, what, r.StatusCode(), r.Body, http.StatusNotFound, "not-found")
	}
	if got := identityIDs(listIdentities(t, app, victimPair.AccessToken)); len(got) != 1 || got[0] != victimIdentity {
		t.Errorf("the victim's identities after the attempts: %v", got)
	}
	if n := securityEvents(t, app, victim, "identity_unlinked"); n != 0 {
		t.Errorf("%d identity_unlinked events on the victim", n)
	}
}

// TestIdentities_UnlinkNeedsStepUpAndTheCurrentPassword: on an account with
// a password, an old session is refused (step-up-required), a missing
// current_password is a 422 naming it, a wrong one a 403 recorded as
// login_failed; the right one unlinks, records identity_unlinked, mails a
// notice, and the password remains a way to log in.
func TestIdentities_UnlinkNeedsStepUpAndTheCurrentPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, old := app.NewUser(t)
	id := app.LinkIdentity(t, u.Id, "google", "g-"+u.Email, u.Email, true)

	app.Clock.Advance(11 * time.Minute)
	r := deleteIdentity(t, app, old.AccessToken, id, ptr(testkit.Password))
	wantProblem(t, "an 11-minute-old session", r.StatusCode(), r.Body, http.StatusUnauthorized, "step-up-required")

	pair := app.Login(t, u.Email, testkit.Password)
	r = deleteIdentity(t, app, pair.AccessToken, id, nil)
	wantProblem(t, "without current_password", r.StatusCode(), r.Body, http.StatusUnprocessableEntity, "validation")
	if p := r.ApplicationproblemJSON422; p == nil || p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Field != "current_password" {
		t.Errorf("422 without current_password names %s, want the field current_password", r.Body)
	}
	r = deleteIdentity(t, app, pair.AccessToken, id, ptr("Wrong-Horse-8"))
	wantProblem(t, "a wrong current_password", r.StatusCode(), r.Body, http.StatusForbidden, "wrong-password")
	if n := eventCount(t, app, pair.AccessToken, "login_failed"); n != 1 {
		t.Errorf("%d login_failed events after a wrong current_password, want 1", n)
	}
	if got := listIdentities(t, app, pair.AccessToken); len(got) != 1 {
		t.Fatalf("refused unlinks removed the identity: %v", got)
	}

	if r := deleteIdentity(t, app, pair.AccessToken, id, ptr(testkit.Password)); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("unlink with the password: %d %s, want 204 (the password remains)", r.StatusCode(), r.Body)
	}
	if got := listIdentities(t, app, pair.AccessToken); len(got) != 0 {
		t.Errorf("identities after the unlink: %v", got)
	}
	if n := eventCount(t, app, pair.AccessToken, "identity_unlinked"); n != 1 {
		t.Errorf("%d identity_unlinked events, want 1", n)
	}
	if n := outboxCount(t, app, mail.KindIdentityUnlinked, u.Email); n != 1 {
		t.Errorf("%d identity-unlinked notices, want 1", n)
	}
	r = deleteIdentity(t, app, pair.AccessToken, id, ptr(testkit.Password))
	wantProblem(t, "unlinking it again", r.StatusCode(), r.Body, http.StatusNotFound, "not-found")
	app.Login(t, u.Email, testkit.Password)
}

// TestIdentities_TheLastWayToLogInStays: an account without a password
// keeps at least one identity or passkey. Its only identity cannot go (409
// last-login-method, nothing recorded or mailed); with two, one can; with a
// passkey beside it, the identity can, and then the passkey cannot.
func TestIdentities_TheLastWayToLogInStays(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits) // more changes than a minute's budget
	userID, only, pair := passwordlessUser(t, app)
	r := deleteIdentity(t, app, pair.AccessToken, only, nil)
	wantProblem(t, "the only identity of an account without a password", r.StatusCode(), r.Body, http.StatusConflict, "last-login-method")
	if n := securityEvents(t, app, userID, "identity_unlinked"); n != 0 {
		t.Errorf("a refused unlink left %d identity_unlinked events", n)
	}

	second := app.LinkIdentity(t, userID, "google", "g-"+only.String(), "", false)
	if r := deleteIdentity(t, app, pair.AccessToken, only, nil); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("one of two identities: %d %s, want 204", r.StatusCode(), r.Body)
	}
	r = deleteIdentity(t, app, pair.AccessToken, second, nil)
	wantProblem(t, "the remaining identity", r.StatusCode(), r.Body, http.StatusConflict, "last-login-method")

	// A passkey is a way to log in too. It is a second factor as well, so
	// the session steps up (with the recovery code it came with) first.
	added, _ := addPasskeyWithout(t, app, pair.AccessToken, testkit.NewAuthenticator())
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*added.RecoveryCodes)[0])})
	if r := deleteIdentity(t, app, raised.AccessToken, second, nil); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("the identity beside a passkey: %d %s, want 204", r.StatusCode(), r.Body)
	}
	pk := testkit.Must(app.Client.DeletePasskeyWithResponse(context.Background(), added.Passkey.Id, client.CurrentPasswordRequest{}, testkit.Bearer(raised.AccessToken)))(t)
	wantProblem(t, "the last passkey of an account without password or identity", pk.StatusCode(), pk.Body, http.StatusConflict, "last-login-method")
	if got := listPasskeys(t, app, raised.AccessToken); len(got) != 1 {
		t.Errorf("passkeys after the refusal: %v", got)
	}
	if n := securityEvents(t, app, userID, "passkey_removed"); n != 0 {
		t.Errorf("a refused passkey removal left %d passkey_removed events", n)
	}
	if n := outboxCount(t, app, mail.KindPasskeyRemoved, emailOf(t, app, raised.AccessToken)); n != 0 {
		t.Errorf("a refused passkey removal mailed %d notices", n)
	}
}

// TestPasskeys_LastPasskeyGoesWhenAnotherWayRemains: the passkey rule
// refuses only the very last way: a password account removes its only
// passkey, and an account without a password removes one of two passkeys
// or its passkey beside an identity.
func TestPasskeys_LastPasskeyGoesWhenAnotherWayRemains(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits) // more changes than a minute's budget
	_, pair := app.NewUser(t)
	added, _ := addPasskey(t, app, pair.AccessToken, testkit.NewAuthenticator(), nil)
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*added.RecoveryCodes)[0])})
	if r := deletePasskey(t, app, raised.AccessToken, added.Passkey.Id); r.StatusCode() != http.StatusNoContent {
		t.Errorf("the only passkey of an account with a password: %d %s, want 204", r.StatusCode(), r.Body)
	}

	userID, identity, fed := passwordlessUser(t, app)
	auth := testkit.NewAuthenticator()
	first, _ := addPasskeyWithout(t, app, fed.AccessToken, auth)
	fed = stepUpOK(t, app, fed.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*first.RecoveryCodes)[0])})
	second, _ := addPasskeyWithout(t, app, fed.AccessToken, auth)
	del := func(id uuid.UUID) *client.DeletePasskeyResponse {
		return testkit.Must(app.Client.DeletePasskeyWithResponse(context.Background(), id, client.CurrentPasswordRequest{}, testkit.Bearer(fed.AccessToken)))(t)
	}
	if r := del(first.Passkey.Id); r.StatusCode() != http.StatusNoContent {
		t.Errorf("one of two passkeys: %d %s, want 204", r.StatusCode(), r.Body)
	}
	if r := del(second.Passkey.Id); r.StatusCode() != http.StatusNoContent {
		t.Errorf("the passkey beside an identity: %d %s, want 204", r.StatusCode(), r.Body)
	}
	r := deleteIdentity(t, app, fed.AccessToken, identity, nil)
	wantProblem(t, "the identity now alone", r.StatusCode(), r.Body, http.StatusConflict, "last-login-method")
	if n := securityEvents(t, app, userID, "passkey_removed"); n != 2 {
		t.Errorf("%d passkey_removed events, want 2", n)
	}
}

// TestReset_RemovesTheIdentitiesWhoseProviderDidNotVerifyTheAddress: the
// reset proves the address; identities whose provider never verified it
// are unlinked in its transaction (identity_unlinked each), the verified
// one stays, and another user's unverified identity is not touched.
func TestReset_RemovesTheIdentitiesWhoseProviderDidNotVerifyTheAddress(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t)) // the reset mail stays in the outbox
	email := testkit.UniqueEmail()
	userID := app.FederatedUser(t, email, false)
	app.LinkIdentity(t, userID, "gitlab", "attacker", email, false)
	app.LinkIdentity(t, userID, "corp", "unverified-too", "ada@corp.example", false)
	kept := app.LinkIdentity(t, userID, "google", "owner", email, true)
	bystander := app.FederatedUser(t, testkit.UniqueEmail(), false)
	theirs := app.LinkIdentity(t, bystander, "gitlab", "bystander", "", false)

	resetPassword(t, app, email, "Brand-New-Horse-5")
	pair := app.Login(t, email, "Brand-New-Horse-5")
	if got := identityIDs(listIdentities(t, app, pair.AccessToken)); len(got) != 1 || got[0] != kept {
		t.Errorf("identities after the reset %v, want only the verified %s", got, kept)
	}
	if n := securityEvents(t, app, userID, "identity_unlinked"); n != 2 {
		t.Errorf("%d identity_unlinked events, want 2 (one per removed identity)", n)
	}
	if n := securityEvents(t, app, userID, "password_reset"); n != 1 {
		t.Errorf("%d password_reset events, want 1", n)
	}
	if got := identityIDs(listIdentities(t, app, app.FederatedSession(t, bystander).AccessToken)); len(got) != 1 || got[0] != theirs {
		t.Errorf("another user's identities after the reset: %v", got)
	}
}

// emailOf is the address of the holder of access.
func emailOf(t *testing.T, app *testkit.App, access string) string {
	t.Helper()
	r := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(access)))(t)
	if r.JSON200 == nil {
		t.Fatalf("GET /users/me: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Email
}
