package server_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
)

// passkeyOptions is POST /users/me/passkeys/options with the right password.
func passkeyOptions(t *testing.T, app *testkit.App, access string) *client.PasskeyRegistrationOptionsResponse {
	t.Helper()
	return testkit.Must(app.Client.PasskeyRegistrationOptionsWithResponse(context.Background(),
		client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))(t)
}

// passkeyCreation is the creation options of a new ceremony, which must start.
func passkeyCreation(t *testing.T, app *testkit.App, access string) map[string]any {
	t.Helper()
	r := passkeyOptions(t, app, access)
	if r.JSON200 == nil {
		t.Fatalf("passkey options: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Options
}

// registerPasskey is POST /users/me/passkeys.
func registerPasskey(t *testing.T, app *testkit.App, access string, cred client.PasskeyCredential, name *string) *client.RegisterPasskeyResponse {
	t.Helper()
	return testkit.Must(app.Client.RegisterPasskeyWithResponse(context.Background(),
		client.PasskeyRegistrationRequest{Credential: cred, FriendlyName: name}, testkit.Bearer(access)))(t)
}

// addPasskey registers a new passkey of auth for the holder of access,
// which must succeed.
func addPasskey(t *testing.T, app *testkit.App, access string, auth *testkit.Authenticator, name *string) (client.PasskeyAdded, *testkit.VirtualCredential) {
	t.Helper()
	cred, vc := auth.Register(t, passkeyCreation(t, app, access), testkit.PasskeyOrigin)
	r := registerPasskey(t, app, access, cred, name)
	if r.JSON201 == nil {
		t.Fatalf("register passkey: %d %s", r.StatusCode(), r.Body)
	}
	return *r.JSON201, vc
}

// listPasskeys is GET /users/me/passkeys, which must answer 200.
func listPasskeys(t *testing.T, app *testkit.App, access string) []client.Passkey {
	t.Helper()
	r := testkit.Must(app.Client.ListPasskeysWithResponse(context.Background(), testkit.Bearer(access)))(t)
	if r.JSON200 == nil {
		t.Fatalf("list passkeys: %d %s", r.StatusCode(), r.Body)
	}
	return r.JSON200.Passkeys
}

// deletePasskey is DELETE /users/me/passkeys/{id} with the right password.
func deletePasskey(t *testing.T, app *testkit.App, access string, id uuid.UUID) *client.DeletePasskeyResponse {
	t.Helper()
	return testkit.Must(app.Client.DeletePasskeyWithResponse(context.Background(), id,
		client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))(t)
}

// TestPasskeys_RegisterListRenameDelete: the options name the relying
// party and the user handle and ask for a resident key and user
// verification; the first passkey comes with 10 recovery codes, is listed
// with its model, transports and backup flags, recorded and mailed; only
// its owner renames or removes it; removing the last factor voids the
// recovery codes, recorded and mailed.
func TestPasskeys_RegisterListRenameDelete(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	_, other := app.NewUser(t)
	auth := testkit.NewAuthenticator()
	auth.BackupEligible, auth.BackupState = true, true

	opts := passkeyCreation(t, app, pair.AccessToken)
	rp, _ := opts["rp"].(map[string]any)
	user, _ := opts["user"].(map[string]any)
	sel, _ := opts["authenticatorSelection"].(map[string]any)
	if rp["id"] != testkit.PasskeyRPID || user["id"] != base64.RawURLEncoding.EncodeToString(u.Id[:]) || user["name"] != u.Email ||
		sel["residentKey"] != "required" || sel["userVerification"] != "required" || opts["challenge"] == "" {
		t.Errorf("creation options: %v", opts)
	}
	cred, vc := auth.Register(t, opts, testkit.PasskeyOrigin)
	r := registerPasskey(t, app, pair.AccessToken, cred, ptr("Laptop"))
	if r.JSON201 == nil {
		t.Fatalf("register: %d %s", r.StatusCode(), r.Body)
	}
	added := r.JSON201
	if added.RecoveryCodes == nil || len(*added.RecoveryCodes) != 10 {
		t.Errorf("first factor: recovery codes %v, want 10", added.RecoveryCodes)
	}
	pk := added.Passkey
	if pk.FriendlyName != "Laptop" || pk.Aaguid == nil || *pk.Aaguid != uuid.UUID(testkit.TestAAGUID) ||
		!pk.BackupEligible || !pk.BackedUp || !slices.Equal(pk.Transports, []string{"internal"}) || pk.LastUsedAt != nil {
		t.Errorf("passkey %+v", pk)
	}
	if list := listPasskeys(t, app, pair.AccessToken); len(list) != 1 || list[0].Id != pk.Id {
		t.Errorf("passkeys: %+v", list)
	}
	if list := listPasskeys(t, app, other.AccessToken); len(list) != 0 {
		t.Errorf("another user's passkeys: %+v", list)
	}
	if got := listFactors(t, app, pair.AccessToken); got.RecoveryCodesRemaining != 10 {
		t.Errorf("%d recovery codes left, want 10", got.RecoveryCodesRemaining)
	}
	if n := eventCount(t, app, pair.AccessToken, "passkey_added"); n != 1 {
		t.Errorf("%d passkey_added events, want 1", n)
	}
	if n := outboxCount(t, app, mail.KindPasskeyAdded, u.Email); n != 1 {
		t.Errorf("%d passkey-added notices, want 1", n)
	}
	_ = vc

	// A password login now asks for a second factor. Listing "passkey"
	// among its methods is the login side's (feat/passkey-login).
	login := testkit.Must(app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(u.Email)))(t)
	if login.JSON202 == nil {
		t.Errorf("password login of an account with a passkey: %d %s, want 202", login.StatusCode(), login.Body)
	}

	// Rename: the owner's only.
	ctx := context.Background()
	if rr := testkit.Must(app.Client.RenamePasskeyWithResponse(ctx, pk.Id, client.RenamePasskeyRequest{FriendlyName: "Phone"}, testkit.Bearer(other.AccessToken)))(t); rr.StatusCode() != http.StatusNotFound {
		t.Errorf("renaming another user's passkey: %d, want 404", rr.StatusCode())
	}
	rr := testkit.Must(app.Client.RenamePasskeyWithResponse(ctx, pk.Id, client.RenamePasskeyRequest{FriendlyName: "Phone"}, testkit.Bearer(pair.AccessToken)))(t)
	if rr.JSON200 == nil || rr.JSON200.FriendlyName != "Phone" {
		t.Fatalf("rename: %d %s", rr.StatusCode(), rr.Body)
	}
	if rr := testkit.Must(app.Client.RenamePasskeyWithResponse(ctx, uuid.New(), client.RenamePasskeyRequest{FriendlyName: "X"}, testkit.Bearer(pair.AccessToken)))(t); rr.StatusCode() != http.StatusNotFound {
		t.Errorf("renaming an unknown passkey: %d, want 404", rr.StatusCode())
	}

	// Removal: behind step-up at aal 2 now that the account has a factor.
	if d := deletePasskey(t, app, pair.AccessToken, pk.Id); d.StatusCode() != http.StatusUnauthorized || problemSlug(d.Body) != "step-up-required" {
		t.Fatalf("removal at aal 1: %d %s, want 401 step-up-required", d.StatusCode(), d.Body)
	}
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*added.RecoveryCodes)[0])})
	if d := deletePasskey(t, app, other.AccessToken, pk.Id); d.StatusCode() != http.StatusNotFound {
		t.Errorf("removing another user's passkey: %d, want 404", d.StatusCode())
	}
	wrong := testkit.Must(app.Client.DeletePasskeyWithResponse(ctx, pk.Id, client.CurrentPasswordRequest{CurrentPassword: ptr("Not-The-Password-1")}, testkit.Bearer(raised.AccessToken)))(t)
	if wrong.StatusCode() != http.StatusForbidden || problemSlug(wrong.Body) != "wrong-password" {
		t.Errorf("removal with a wrong password: %d %s, want 403 wrong-password", wrong.StatusCode(), wrong.Body)
	}
	if d := deletePasskey(t, app, raised.AccessToken, pk.Id); d.StatusCode() != http.StatusNoContent {
		t.Fatalf("removal: %d %s", d.StatusCode(), d.Body)
	}
	if d := deletePasskey(t, app, raised.AccessToken, pk.Id); d.StatusCode() != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", d.StatusCode())
	}
	if list := listPasskeys(t, app, raised.AccessToken); len(list) != 0 {
		t.Errorf("passkeys after removal: %+v", list)
	}
	if got := listFactors(t, app, raised.AccessToken); got.RecoveryCodesRemaining != 0 {
		t.Errorf("%d recovery codes left after the last factor went, want 0", got.RecoveryCodesRemaining)
	}
	if n := eventCount(t, app, raised.AccessToken, "passkey_removed"); n != 1 {
		t.Errorf("%d passkey_removed events, want 1", n)
	}
	if n := outboxCount(t, app, mail.KindPasskeyRemoved, u.Email); n != 1 {
		t.Errorf("%d passkey-removed notices, want 1", n)
	}
	if login := testkit.Must(app.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email)))(t); login.JSON200 == nil {
		t.Errorf("password login without factors: %d, want 200", login.StatusCode())
	}
}

// TestPasskeys_RegistrationNeedsStepUpAndPassword: the options ask for the
// current password (403) and a recent authentication (401 step-up-required).
func TestPasskeys_RegistrationNeedsStepUpAndPassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.StepUpMaxAge(time.Minute))
	_, pair := app.NewUser(t)
	wrong := testkit.Must(app.Client.PasskeyRegistrationOptionsWithResponse(context.Background(),
		client.CurrentPasswordRequest{CurrentPassword: ptr("Not-The-Password-1")}, testkit.Bearer(pair.AccessToken)))(t)
	if wrong.StatusCode() != http.StatusForbidden || problemSlug(wrong.Body) != "wrong-password" {
		t.Errorf("options with a wrong password: %d %s, want 403 wrong-password", wrong.StatusCode(), wrong.Body)
	}
	app.Clock.Advance(2 * time.Minute)
	if r := passkeyOptions(t, app, pair.AccessToken); r.StatusCode() != http.StatusUnauthorized || problemSlug(r.Body) != "step-up-required" {
		t.Errorf("options after the step-up window: %d %s, want 401 step-up-required", r.StatusCode(), r.Body)
	}
}

// TestPasskeys_RecoveryCodesForFirstFactorOnly: a passkey added next to an
// authenticator app brings no new codes, and the app's codes still work.
func TestPasskeys_RecoveryCodesForFirstFactorOnly(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, raised, _, _, codes := withCode(t, app)
	added, _ := addPasskey(t, app, raised.AccessToken, testkit.NewAuthenticator(), nil)
	if added.RecoveryCodes != nil {
		t.Errorf("a second factor came with recovery codes %v", *added.RecoveryCodes)
	}
	if added.Passkey.FriendlyName != "Passkey" {
		t.Errorf("default name %q", added.Passkey.FriendlyName)
	}
	if got := listFactors(t, app, raised.AccessToken); got.RecoveryCodesRemaining != len(codes) {
		t.Errorf("%d recovery codes left, want the %d of the app", got.RecoveryCodesRemaining, len(codes))
	}
	stepUpOK(t, app, raised.AccessToken, client.StepUpRequest{RecoveryCode: ptr(codes[0])})
}

// TestPasskeys_RegistrationRefusals: a response from another origin, for
// another relying party, without user verification or of the wrong
// ceremony type is refused (422) and spends its challenge; a replayed
// response, an expired ceremony and one of another session answer 400; a
// credential registered already, to this account or another, is refused.
// Nothing is stored, recorded or mailed.
func TestPasskeys_RegistrationRefusals(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	u, pair := app.NewUser(t)
	second := app.Login(t, u.Email, testkit.Password) // another session of the user
	auth := testkit.NewAuthenticator()

	for name, c := range map[string]struct {
		origin string
		knobs  []testkit.Knob
	}{
		"forged origin":     {"https://evil.example", nil},
		"a lookalike port":  {"http://localhost:8081", nil},
		"wrong rpId":        {testkit.PasskeyOrigin, []testkit.Knob{testkit.WithRPIDHash("evil.example")}},
		"no UV":             {testkit.PasskeyOrigin, []testkit.Knob{testkit.WithoutUV()}},
		"no UP":             {testkit.PasskeyOrigin, []testkit.Knob{testkit.WithoutUP()}},
		"an assertion type": {testkit.PasskeyOrigin, []testkit.Knob{testkit.WithClientDataType("webauthn.get")}},
	} {
		cred, _ := auth.Register(t, passkeyCreation(t, app, pair.AccessToken), c.origin, c.knobs...)
		r := registerPasskey(t, app, pair.AccessToken, cred, nil)
		if r.StatusCode() != http.StatusUnprocessableEntity || problemSlug(r.Body) != "validation" {
			t.Errorf("%s: %d %s, want 422 validation", name, r.StatusCode(), r.Body)
			continue
		}
		// The challenge is spent: the same response again finds no ceremony.
		if r := registerPasskey(t, app, pair.AccessToken, cred, nil); r.StatusCode() != http.StatusBadRequest {
			t.Errorf("%s, again: %d %s, want 400", name, r.StatusCode(), r.Body)
		}
	}
	if list := listPasskeys(t, app, pair.AccessToken); len(list) != 0 {
		t.Fatalf("refused responses stored passkeys: %+v", list)
	}

	// Replay of an accepted response.
	cred, vc := auth.Register(t, passkeyCreation(t, app, pair.AccessToken), testkit.PasskeyOrigin)
	accepted := registerPasskey(t, app, pair.AccessToken, cred, nil)
	if accepted.JSON201 == nil || accepted.JSON201.RecoveryCodes == nil {
		t.Fatalf("register: %d %s", accepted.StatusCode(), accepted.Body)
	}
	if r := registerPasskey(t, app, pair.AccessToken, cred, nil); r.StatusCode() != http.StatusBadRequest || !strings.Contains(string(r.Body), "challenge") {
		t.Errorf("replayed response: %d %s, want 400 naming the challenge", r.StatusCode(), r.Body)
	}
	// From here the account has a factor: the options need aal 2.
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*accepted.JSON201.RecoveryCodes)[0])})

	// The same credential again, by a client ignoring excludeCredentials.
	opts := passkeyCreation(t, app, raised.AccessToken)
	if ex, _ := opts["excludeCredentials"].([]any); len(ex) != 1 {
		t.Errorf("excludeCredentials %v, want the registered passkey", opts["excludeCredentials"])
	}
	again, _ := auth.Register(t, opts, testkit.PasskeyOrigin, testkit.Reusing(vc))
	if r := registerPasskey(t, app, raised.AccessToken, again, nil); r.StatusCode() != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "registered already") {
		t.Errorf("a credential registered already: %d %s, want 422", r.StatusCode(), r.Body)
	}
	// ... and by another account.
	_, stranger := app.NewUser(t)
	theirs, _ := auth.Register(t, passkeyCreation(t, app, stranger.AccessToken), testkit.PasskeyOrigin, testkit.Reusing(vc))
	if r := registerPasskey(t, app, stranger.AccessToken, theirs, nil); r.StatusCode() != http.StatusUnprocessableEntity {
		t.Errorf("another account's credential: %d %s, want 422", r.StatusCode(), r.Body)
	}

	// A ceremony of another session: refused there, still good for its own.
	mine, _ := auth.Register(t, passkeyCreation(t, app, raised.AccessToken), testkit.PasskeyOrigin)
	if r := registerPasskey(t, app, second.AccessToken, mine, nil); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("another session's ceremony: %d %s, want 400", r.StatusCode(), r.Body)
	}
	if r := registerPasskey(t, app, stranger.AccessToken, mine, nil); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("another user's ceremony: %d %s, want 400", r.StatusCode(), r.Body)
	}
	if r := registerPasskey(t, app, raised.AccessToken, mine, nil); r.JSON201 == nil {
		t.Errorf("the ceremony's own session after the others: %d %s, want 201", r.StatusCode(), r.Body)
	}

	// An expired ceremony.
	late, _ := auth.Register(t, passkeyCreation(t, app, raised.AccessToken), testkit.PasskeyOrigin)
	app.Clock.Advance(6 * time.Minute)
	if r := registerPasskey(t, app, raised.AccessToken, late, nil); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("an expired ceremony: %d %s, want 400", r.StatusCode(), r.Body)
	}

	if list := listPasskeys(t, app, raised.AccessToken); len(list) != 2 {
		t.Errorf("%d passkeys, want the 2 accepted", len(list))
	}
	if n := eventCount(t, app, raised.AccessToken, "passkey_added"); n != 2 {
		t.Errorf("%d passkey_added events, want 2", n)
	}
	// Notices to one address are capped per window (mayMail): at least one.
	if n := outboxCount(t, app, mail.KindPasskeyAdded, u.Email); n < 1 || n > 2 {
		t.Errorf("%d notices, want 1 or 2", n)
	}
	if list := listPasskeys(t, app, stranger.AccessToken); len(list) != 0 {
		t.Errorf("the stranger has passkeys: %+v", list)
	}
}

// TestPasskeys_MalformedCredentials: bodies that are not registration
// responses answer 4xx, never 500, and spend nothing.
func TestPasskeys_MalformedCredentials(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	auth := testkit.NewAuthenticator()
	opts := passkeyCreation(t, app, pair.AccessToken)
	good, _ := auth.Register(t, opts, testkit.PasskeyOrigin)
	b64 := base64.RawURLEncoding.EncodeToString
	with := func(edit func(c *client.PasskeyCredential)) client.PasskeyCredential {
		c := client.PasskeyCredential{Id: good.Id, RawId: good.RawId, Type: good.Type, Response: map[string]any{}}
		for k, v := range good.Response {
			c.Response[k] = v
		}
		edit(&c)
		return c
	}
	for name, cred := range map[string]client.PasskeyCredential{
		"empty response":             with(func(c *client.PasskeyCredential) { c.Response = map[string]any{} }),
		"id not base64url":           with(func(c *client.PasskeyCredential) { c.Id, c.RawId = "!!", "!!" }),
		"id and rawId differ":        with(func(c *client.PasskeyCredential) { c.RawId = b64([]byte("other")) }),
		"clientDataJSON not JSON":    with(func(c *client.PasskeyCredential) { c.Response["clientDataJSON"] = b64([]byte("{not json")) }),
		"clientDataJSON a number":    with(func(c *client.PasskeyCredential) { c.Response["clientDataJSON"] = 7 }),
		"attestationObject garbage":  with(func(c *client.PasskeyCredential) { c.Response["attestationObject"] = b64([]byte{0xa1, 0xff, 0x00}) }),
		"attestationObject empty":    with(func(c *client.PasskeyCredential) { c.Response["attestationObject"] = "" }),
		"attestationObject not b64":  with(func(c *client.PasskeyCredential) { c.Response["attestationObject"] = "%%%" }),
		"transports of another type": with(func(c *client.PasskeyCredential) { c.Response["transports"] = "usb" }),
		"an assertion": with(func(c *client.PasskeyCredential) {
			c.Response = map[string]any{"clientDataJSON": good.Response["clientDataJSON"], "authenticatorData": "AAAA", "signature": "AAAA"}
		}),
	} {
		r := registerPasskey(t, app, pair.AccessToken, cred, nil)
		if r.StatusCode() < 400 || r.StatusCode() >= 500 {
			t.Errorf("%s: %d %s, want 4xx", name, r.StatusCode(), r.Body)
		}
	}
	for name, body := range map[string]string{
		"no credential":      `{}`,
		"credential a list":  `{"credential":[]}`,
		"response a string":  `{"credential":{"id":"AA","rawId":"AA","type":"public-key","response":"x"}}`,
		"another type":       `{"credential":{"id":"AA","rawId":"AA","type":"password","response":{}}}`,
		"truncated JSON":     `{"credential":{"id":"AA"`,
		"huge id":            `{"credential":{"id":"` + strings.Repeat("A", 2000) + `","rawId":"AA","type":"public-key","response":{}}}`,
		"nested clientData":  `{"credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":{"a":1},"attestationObject":"AA"}}}`,
		"attestation object": `{"credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`,
	} {
		r := testkit.Must(app.Client.RegisterPasskeyWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(body), testkit.Bearer(pair.AccessToken)))(t)
		if r.StatusCode() < 400 || r.StatusCode() >= 500 {
			t.Errorf("%s: %d %s, want 4xx", name, r.StatusCode(), r.Body)
		}
	}
	// The ceremony survived the malformed attempts.
	if r := registerPasskey(t, app, pair.AccessToken, good, nil); r.JSON201 == nil {
		t.Errorf("the honest response after malformed ones: %d %s, want 201", r.StatusCode(), r.Body)
	}
}

// TestPasskeys_Limit: an account keeps at most 10 passkeys (409 factor-limit).
func TestPasskeys_Limit(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	_, pair := app.NewUser(t)
	auth := testkit.NewAuthenticator()
	first, _ := addPasskey(t, app, pair.AccessToken, auth, nil)
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: ptr((*first.RecoveryCodes)[0])})
	for range 9 {
		addPasskey(t, app, raised.AccessToken, auth, nil)
	}
	if r := passkeyOptions(t, app, raised.AccessToken); r.StatusCode() != http.StatusConflict || problemSlug(r.Body) != "factor-limit" {
		t.Errorf("an 11th passkey: %d %s, want 409 factor-limit", r.StatusCode(), r.Body)
	}
}
