package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// addPasskeyID registers a passkey of auth for the holder of access and
// returns its credential id.
func addPasskeyID(t *testing.T, app *testkit.App, access string, auth *testkit.Authenticator) []byte {
	t.Helper()
	_, vc := addPasskey(t, app, access, auth, nil)
	return vc.ID
}

// passkeyUser is a new user with one passkey of a new device-bound
// authenticator (hwk); it returns the user, the authenticator and the
// credential id.
func passkeyUser(t *testing.T, app *testkit.App) (client.User, *testkit.Authenticator, []byte) {
	t.Helper()
	u, pair := app.NewUser(t)
	auth := testkit.NewAuthenticator()
	return u, auth, addPasskeyID(t, app, pair.AccessToken, auth)
}

// loginOptions starts a passwordless login and returns its options.
func loginOptions(t *testing.T, app *testkit.App) map[string]any {
	t.Helper()
	resp := testkit.Must(app.Client.PasskeyLoginOptionsWithResponse(context.Background()))(t)
	if resp.JSON200 == nil {
		t.Fatalf("login options: %d %s", resp.StatusCode(), resp.Body)
	}
	if got := resp.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("options Cache-Control %q, want no-store", got)
	}
	return resp.JSON200.Options
}

// passkeyLogin sends an assertion to POST /auth/passkey/login.
func passkeyLogin(t *testing.T, app *testkit.App, cred client.PasskeyCredential) *client.PasskeyLoginResponse {
	t.Helper()
	return testkit.Must(app.Client.PasskeyLoginWithResponse(context.Background(), client.PasskeyAssertionRequest{Credential: cred}))(t)
}

// wantPasskeyAssurance fails unless access verifies with the JWKS and
// carries exactly amr (any order), aal 2 and acr aal2.
func wantPasskeyAssurance(t *testing.T, app *testkit.App, what, access string, amr ...string) assurance {
	t.Helper()
	a := assuranceOf(t, app, access)
	if !slices.Equal(slices.Sorted(slices.Values(a.amr)), slices.Sorted(slices.Values(amr))) || a.aal != 2 || a.acr != "aal2" {
		t.Errorf("%s: amr %v aal %d acr %q, want amr %v aal 2 acr aal2", what, a.amr, a.aal, a.acr, amr)
	}
	return a
}

// securityEvents counts the user's events of kind, from the database (the
// user may hold no token).
func securityEvents(t *testing.T, app *testkit.App, userID uuid.UUID, kind string) int {
	t.Helper()
	var n int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM security_events WHERE user_id = $1 AND kind = $2", userID, kind).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// storedSignCount is the stored counter of the passkey with credential id.
func storedSignCount(t *testing.T, app *testkit.App, id []byte) int64 {
	t.Helper()
	var n int64
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT sign_count FROM passkeys WHERE credential_id = $1", id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// refusal is what a refused request answered, for comparing refusals.
type refusal struct {
	status       int
	typ, detail  string
	hasTokenPair bool
}

func refusalOf(status int, body []byte) refusal {
	var p struct {
		Type, Detail string
	}
	_ = json.Unmarshal(body, &p)
	return refusal{status: status, typ: p.Type, detail: p.Detail, hasTokenPair: bytes.Contains(body, []byte("access_token"))}
}

func TestPasskeyLogin_PasswordlessLoginIsAAL2(t *testing.T) {
	app := testkit.NewApp(t)
	u, auth, id := passkeyUser(t, app)
	before := scrape(t, app, `authd_logins_total{outcome="passkey_success"}`)

	opts := loginOptions(t, app)
	if _, ok := opts["allowCredentials"]; ok && opts["allowCredentials"] != nil {
		t.Errorf("discoverable login options list credentials: %v", opts["allowCredentials"])
	}
	if opts["userVerification"] != "required" || opts["rpId"] != testkit.PasskeyRPID {
		t.Errorf("options %v: want userVerification required and rpId %s", opts, testkit.PasskeyRPID)
	}
	var pair client.TokenPair
	when := timed(app, func() {
		resp := passkeyLogin(t, app, auth.Assert(t, opts, testkit.PasskeyOrigin))
		if resp.JSON200 == nil {
			t.Fatalf("passkey login: %d %s", resp.StatusCode(), resp.Body)
		}
		pair = *resp.JSON200
	})
	a := wantPasskeyAssurance(t, app, "passwordless login", pair.AccessToken, "hwk", "user")
	if a.authTime.Before(when.from.Truncate(time.Second)) || a.authTime.After(when.to) {
		t.Errorf("auth_time %s outside the login", a.authTime)
	}
	me := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(pair.AccessToken)))(t)
	if me.JSON200 == nil || me.JSON200.Id != u.Id {
		t.Fatalf("GET /users/me with the passkey login's token: %d %s", me.StatusCode(), me.Body)
	}
	if got := storedSignCount(t, app, id); got != int64(auth.SignCount(id)) {
		t.Errorf("stored sign count %d, want the authenticator's %d", got, auth.SignCount(id))
	}
	if securityEvents(t, app, u.Id, "passkey_used") != 1 || securityEvents(t, app, u.Id, "login_succeeded") < 2 {
		t.Errorf("events: passkey_used %d, login_succeeded %d", securityEvents(t, app, u.Id, "passkey_used"), securityEvents(t, app, u.Id, "login_succeeded"))
	}
	if got := scrape(t, app, `authd_logins_total{outcome="passkey_success"}`); got != before+1 {
		t.Errorf("passkey_success %v, want %v", got, before+1)
	}
	// The refresh token works and keeps the assurance.
	ref := testkit.Must(app.Client.RefreshTokenWithResponse(context.Background(), client.RefreshRequest{RefreshToken: pair.RefreshToken}))(t)
	if ref.JSON200 == nil {
		t.Fatalf("refresh: %d %s", ref.StatusCode(), ref.Body)
	}
	wantPasskeyAssurance(t, app, "refreshed", ref.JSON200.AccessToken, "hwk", "user")

	// A synced passkey (backup eligible) is swk.
	_, pair2 := app.NewUser(t)
	synced := testkit.NewAuthenticator()
	synced.BackupEligible, synced.BackupState = true, true
	addPasskeyID(t, app, pair2.AccessToken, synced)
	resp := passkeyLogin(t, app, synced.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
	if resp.JSON200 == nil {
		t.Fatalf("synced passkey login: %d %s", resp.StatusCode(), resp.Body)
	}
	wantPasskeyAssurance(t, app, "synced passkey", resp.JSON200.AccessToken, "swk", "user")
}

func TestPasskeyLogin_AttacksAnswerTheSame401(t *testing.T) {
	app := testkit.NewApp(t)
	u, auth, id := passkeyUser(t, app)

	// A credential the service never registered, for the user's handle.
	stranger := testkit.NewAuthenticator()
	stranger.Register(t, map[string]any{
		"challenge": base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"rp":        map[string]any{"id": testkit.PasskeyRPID},
		"user":      map[string]any{"id": base64.RawURLEncoding.EncodeToString(u.Id[:])},
	}, testkit.PasskeyOrigin)

	badSignature := func() client.PasskeyCredential {
		c := auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)
		sig, err := base64.RawURLEncoding.DecodeString(c.Response["signature"].(string))
		if err != nil {
			t.Fatal(err)
		}
		sig[len(sig)-1] ^= 0x01
		c.Response["signature"] = base64.RawURLEncoding.EncodeToString(sig)
		return c
	}

	// The replayed challenge: a good login, then its assertion again and a
	// new assertion for its (used) challenge.
	used := loginOptions(t, app)
	good := auth.Assert(t, used, testkit.PasskeyOrigin)
	if resp := passkeyLogin(t, app, good); resp.JSON200 == nil {
		t.Fatalf("honest login: %d %s", resp.StatusCode(), resp.Body)
	}

	attacks := []struct {
		name string
		cred func() client.PasskeyCredential
	}{
		{"unknown credential", func() client.PasskeyCredential {
			return stranger.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)
		}},
		{"bad signature", badSignature},
		{"forged origin", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), "https://evil.example")
		}},
		{"wrong rp id", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithRPIDHash("evil.example"))
		}},
		{"same assertion twice", func() client.PasskeyCredential { return good }},
		{"assertion for a used challenge", func() client.PasskeyCredential { return auth.Assert(t, used, testkit.PasskeyOrigin) }},
		{"unknown challenge", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithChallenge(base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))))
		}},
		{"no user verification", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithoutUV())
		}},
		{"a registration's client data type", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithClientDataType("webauthn.create"))
		}},
		{"another user's handle", func() client.PasskeyCredential {
			other, _ := app.NewUser(t)
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithUserHandle(other.Id[:]))
		}},
		{"an unknown user's handle", func() client.PasskeyCredential {
			nobody := uuid.New()
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithUserHandle(nobody[:]))
		}},
		{"no user handle", func() client.PasskeyCredential {
			return auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin, testkit.WithoutUserHandle())
		}},
		{"an expired challenge", func() client.PasskeyCredential {
			c := auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)
			app.Clock.Advance(6 * time.Minute)
			return c
		}},
	}
	var first refusal
	for i, a := range attacks {
		resp := passkeyLogin(t, app, a.cred())
		got := refusalOf(resp.StatusCode(), resp.Body)
		if got.status != http.StatusUnauthorized || !strings.HasSuffix(got.typ, "/invalid-credentials") || got.hasTokenPair {
			t.Errorf("%s: %d %s, want 401 invalid-credentials", a.name, resp.StatusCode(), resp.Body)
			continue
		}
		if i == 0 {
			first = got
		} else if got != first {
			t.Errorf("%s answered %+v, the unknown credential %+v", a.name, got, first)
		}
	}
	if got := securityEvents(t, app, u.Id, "passkey_used"); got != 1 {
		t.Errorf("passkey_used %d after one honest login, want 1", got)
	}
	// The refused assertions moved nothing: the passkey still logs in.
	if got, want := storedSignCount(t, app, id), int64(1); got != want {
		t.Errorf("stored sign count %d after the attacks, want %d", got, want)
	}
	if resp := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)); resp.JSON200 == nil {
		t.Fatalf("honest login after the attacks: %d %s", resp.StatusCode(), resp.Body)
	}
}

func TestPasskeyLogin_SignCountRegressionIsRefusedAndRecorded(t *testing.T) {
	app := testkit.NewApp(t)
	u, auth, id := passkeyUser(t, app)
	for range 3 {
		if resp := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)); resp.JSON200 == nil {
			t.Fatalf("login: %d %s", resp.StatusCode(), resp.Body)
		}
	}
	if got := storedSignCount(t, app, id); got != 3 {
		t.Fatalf("stored count %d, want 3", got)
	}
	before := scrape(t, app, `authd_logins_total{outcome="passkey_clone_suspected"}`)
	// A clone made when the counter was 1 signs with 2, then 3: neither is
	// past the stored 3.
	auth.SetSignCount(id, 1)
	for range 2 {
		resp := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
		if resp.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(resp.Body), "/invalid-credentials") {
			t.Fatalf("a regressed counter: %d %s, want 401 invalid-credentials", resp.StatusCode(), resp.Body)
		}
	}
	if got := securityEvents(t, app, u.Id, "passkey_clone_suspected"); got != 2 {
		t.Errorf("passkey_clone_suspected events %d, want 2 (the refusal must not roll them back)", got)
	}
	if got := storedSignCount(t, app, id); got != 3 {
		t.Errorf("stored count %d after the refusals, want 3", got)
	}
	if got := scrape(t, app, `authd_logins_total{outcome="passkey_clone_suspected"}`); got != before+2 {
		t.Errorf("passkey_clone_suspected metric %v, want %v", got, before+2)
	}
	if !strings.Contains(app.Logs.String(), "suspected clone") {
		t.Error("no warning in the log")
	}
	// The genuine authenticator, ahead of the stored count, still logs in.
	auth.SetSignCount(id, 9)
	if resp := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)); resp.JSON200 == nil {
		t.Fatalf("login past the stored count: %d %s", resp.StatusCode(), resp.Body)
	}
	if got := storedSignCount(t, app, id); got != 10 {
		t.Errorf("stored count %d, want 10", got)
	}
}

func TestPasskeyLogin_MalformedBodiesAre4xx(t *testing.T) {
	app := testkit.NewApp(t)
	_, auth, _ := passkeyUser(t, app)
	ctx := context.Background()
	good := auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin)
	bodies := map[string]string{
		"not JSON":         `{"credential":`,
		"no credential":    `{}`,
		"empty response":   `{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{}}}`,
		"garbage response": `{"credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"!!","authenticatorData":"x","signature":"y"}}}`,
		"client data not JSON": `{"credential":{"id":"` + good.Id + `","rawId":"` + good.RawId + `","type":"public-key","response":{"clientDataJSON":"bm90IGpzb24","authenticatorData":"` +
			good.Response["authenticatorData"].(string) + `","signature":"` + good.Response["signature"].(string) + `"}}}`,
		"short authenticator data": `{"credential":{"id":"` + good.Id + `","rawId":"` + good.RawId + `","type":"public-key","response":{"clientDataJSON":"` +
			good.Response["clientDataJSON"].(string) + `","authenticatorData":"AAAA","signature":"` + good.Response["signature"].(string) + `"}}}`,
		"wrong type": `{"credential":{"id":"AAAA","rawId":"AAAA","type":"password","response":{}}}`,
	}
	for name, body := range bodies {
		resp := testkit.Must(app.Client.PasskeyLoginWithBodyWithResponse(ctx, "application/json", strings.NewReader(body)))(t)
		if resp.StatusCode() != http.StatusBadRequest && resp.StatusCode() != http.StatusUnprocessableEntity {
			t.Errorf("login, %s: %d %s, want 400 or 422", name, resp.StatusCode(), resp.Body)
		}
		ch := `{"mfa_token":"x","passkey":` + strings.TrimSuffix(strings.TrimPrefix(body, `{"credential":`), "}") + `}`
		if name == "not JSON" || name == "no credential" {
			ch = `{"mfa_token":"x","passkey":` + body
		}
		mfa := testkit.Must(app.Client.VerifyMfaWithBodyWithResponse(ctx, "application/json", strings.NewReader(ch)))(t)
		if s := mfa.StatusCode(); s != http.StatusBadRequest && s != http.StatusUnprocessableEntity && s != http.StatusUnauthorized {
			t.Errorf("mfa verify, %s: %d %s, want 4xx", name, s, mfa.Body)
		}
	}
	// The honest assertion still works: the malformed ones spent nothing.
	if resp := passkeyLogin(t, app, good); resp.JSON200 == nil {
		t.Fatalf("honest login after malformed ones: %d %s", resp.StatusCode(), resp.Body)
	}
}

// mfaPasskeyOptions asks for the options of a passkey as second factor.
func mfaPasskeyOptions(t *testing.T, app *testkit.App, mfaToken string) map[string]any {
	t.Helper()
	resp := testkit.Must(app.Client.MfaPasskeyOptionsWithResponse(context.Background(), client.MfaTokenRequest{MfaToken: mfaToken}))(t)
	if resp.JSON200 == nil {
		t.Fatalf("mfa passkey options: %d %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON200.Options
}

// verifyPasskey sends the second step with a passkey assertion.
func verifyPasskey(t *testing.T, app *testkit.App, mfaToken string, cred client.PasskeyCredential) *client.VerifyMfaResponse {
	t.Helper()
	return testkit.Must(app.Client.VerifyMfaWithResponse(context.Background(), client.MfaVerifyRequest{MfaToken: mfaToken, Passkey: &cred}))(t)
}

func TestPasskeyMfa_PasswordLoginOfAnAccountWithAPasskey(t *testing.T) {
	app := testkit.NewApp(t)
	u, auth, _ := passkeyUser(t, app)
	ch := mfaChallenge(t, app, u.Email)
	if !slices.Contains(ch.Methods, "passkey") || slices.Contains(ch.Methods, "totp") {
		t.Errorf("methods %v, want passkey (and no totp: the account has no authenticator app)", ch.Methods)
	}
	opts := mfaPasskeyOptions(t, app, ch.MfaToken)
	allowed, _ := opts["allowCredentials"].([]any)
	if len(allowed) != 1 {
		t.Errorf("allowCredentials %v, want the account's one passkey", opts["allowCredentials"])
	}
	resp := verifyPasskey(t, app, ch.MfaToken, auth.Assert(t, opts, testkit.PasskeyOrigin))
	if resp.JSON200 == nil {
		t.Fatalf("verify with a passkey: %d %s", resp.StatusCode(), resp.Body)
	}
	wantPasskeyAssurance(t, app, "password and passkey", resp.JSON200.AccessToken, "pwd", "hwk")
	// The challenge is used up.
	again := testkit.Must(app.Client.MfaPasskeyOptionsWithResponse(context.Background(), client.MfaTokenRequest{MfaToken: ch.MfaToken}))(t)
	if again.StatusCode() != http.StatusUnauthorized {
		t.Errorf("options for a used challenge: %d, want 401", again.StatusCode())
	}
	// An account without a passkey has none to offer.
	plain, _, _ := mfaUser(t, app)
	other := mfaChallenge(t, app, plain.Email)
	if slices.Contains(other.Methods, "passkey") {
		t.Errorf("methods of an account with only an app: %v", other.Methods)
	}
	none := testkit.Must(app.Client.MfaPasskeyOptionsWithResponse(context.Background(), client.MfaTokenRequest{MfaToken: other.MfaToken}))(t)
	if none.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(none.Body), "/invalid-mfa-token") {
		t.Errorf("passkey options of an account without one: %d %s", none.StatusCode(), none.Body)
	}
}

func TestPasskeyMfa_AnotherUsersPasskeyIsRefused(t *testing.T) {
	// The login backoff would stop the many refusals of one address first.
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	a, authA, _ := passkeyUser(t, app)
	b, authB, idB := passkeyUser(t, app)
	chA := mfaChallenge(t, app, a.Email)

	// B's authenticator answers A's challenge with B's credential.
	resp := verifyPasskey(t, app, chA.MfaToken, authB.Assert(t, mfaPasskeyOptions(t, app, chA.MfaToken), testkit.PasskeyOrigin, testkit.WithCredential(idB)))
	wantStatus(t, "B's passkey for A's challenge", resp, http.StatusForbidden, "invalid-mfa-code")
	// B's own ceremony (of B's login) sent for A's challenge.
	chB := mfaChallenge(t, app, b.Email)
	resp = verifyPasskey(t, app, chA.MfaToken, authB.Assert(t, mfaPasskeyOptions(t, app, chB.MfaToken), testkit.PasskeyOrigin))
	wantStatus(t, "B's ceremony for A's challenge", resp, http.StatusForbidden, "invalid-mfa-code")
	// A's assertion for a ceremony of another challenge of A's.
	chA2 := mfaChallenge(t, app, a.Email)
	resp = verifyPasskey(t, app, chA.MfaToken, authA.Assert(t, mfaPasskeyOptions(t, app, chA2.MfaToken), testkit.PasskeyOrigin))
	wantStatus(t, "a ceremony of another challenge", resp, http.StatusForbidden, "invalid-mfa-code")
	// A passwordless login's ceremony is not a second factor's.
	resp = verifyPasskey(t, app, chA.MfaToken, authA.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
	wantStatus(t, "a passwordless ceremony", resp, http.StatusForbidden, "invalid-mfa-code")
	if got := securityEvents(t, app, a.Id, "mfa_failed"); got != 4 {
		t.Errorf("mfa_failed for A %d, want 4", got)
	}
	// Four failures count against the challenge; A's own passkey still completes it.
	resp = verifyPasskey(t, app, chA.MfaToken, authA.Assert(t, mfaPasskeyOptions(t, app, chA.MfaToken), testkit.PasskeyOrigin))
	if resp.JSON200 == nil {
		t.Fatalf("A's passkey after the refusals: %d %s", resp.StatusCode(), resp.Body)
	}
	wantPasskeyAssurance(t, app, "A", resp.JSON200.AccessToken, "pwd", "hwk")
	// The fifth failure kills a challenge.
	chA3 := mfaChallenge(t, app, a.Email)
	for i := range 5 {
		resp = verifyPasskey(t, app, chA3.MfaToken, authA.Assert(t, mfaPasskeyOptions(t, app, chA3.MfaToken), testkit.PasskeyOrigin, testkit.WithoutUV()))
		wantStatus(t, fmt.Sprintf("no user verification, try %d", i+1), resp, http.StatusForbidden, "invalid-mfa-code")
	}
	dead := testkit.Must(app.Client.MfaPasskeyOptionsWithResponse(context.Background(), client.MfaTokenRequest{MfaToken: chA3.MfaToken}))(t)
	if dead.StatusCode() != http.StatusUnauthorized {
		t.Errorf("options after five failures: %d, want 401", dead.StatusCode())
	}
}

// stepUpPasskeyOptions asks for the options of a step-up with a passkey.
func stepUpPasskeyOptions(t *testing.T, app *testkit.App, access string) *client.StepUpPasskeyOptionsResponse {
	t.Helper()
	return testkit.Must(app.Client.StepUpPasskeyOptionsWithResponse(context.Background(), testkit.Bearer(access)))(t)
}

func TestPasskeyStepUp_RaisesTheSession(t *testing.T) {
	app := testkit.NewApp(t)
	_, auth, _ := passkeyUser(t, app)
	login := passkeyLogin(t, app, auth.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
	if login.JSON200 == nil {
		t.Fatalf("login: %d %s", login.StatusCode(), login.Body)
	}
	access := login.JSON200.AccessToken
	app.Clock.Advance(11 * time.Minute)
	opts := stepUpPasskeyOptions(t, app, access)
	if opts.JSON200 == nil {
		t.Fatalf("step-up options: %d %s", opts.StatusCode(), opts.Body)
	}
	cred := auth.Assert(t, opts.JSON200.Options, testkit.PasskeyOrigin)
	var pair client.TokenPair
	when := timed(app, func() { pair = stepUpOK(t, app, access, client.StepUpRequest{Passkey: &cred}) })
	a := wantPasskeyAssurance(t, app, "stepped up", pair.AccessToken, "hwk", "user")
	if a.authTime.Before(when.from.Truncate(time.Second)) {
		t.Errorf("auth_time %s, want the step-up's (%s)", a.authTime, when.from)
	}
	// The same assertion again: its ceremony is spent.
	if resp := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Passkey: &cred}); resp.StatusCode() != http.StatusForbidden {
		t.Errorf("replayed step-up: %d %s, want 403", resp.StatusCode(), resp.Body)
	}

	// An account without a passkey: 409 factor-required.
	_, plain := app.NewUser(t)
	if resp := stepUpPasskeyOptions(t, app, plain.AccessToken); resp.StatusCode() != http.StatusConflict || !strings.Contains(string(resp.Body), "/factor-required") {
		t.Errorf("options without a passkey: %d %s, want 409 factor-required", resp.StatusCode(), resp.Body)
	}
}

func TestPasskeyStepUp_AnotherUsersOrSessionsPasskeyIsRefused(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	a, authA, _ := passkeyUser(t, app)
	_, authB, idB := passkeyUser(t, app)
	loginA := func() string {
		resp := passkeyLogin(t, app, authA.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
		if resp.JSON200 == nil {
			t.Fatalf("login: %d %s", resp.StatusCode(), resp.Body)
		}
		return resp.JSON200.AccessToken
	}
	access, other := loginA(), loginA()
	loginB := passkeyLogin(t, app, authB.Assert(t, loginOptions(t, app), testkit.PasskeyOrigin))
	if loginB.JSON200 == nil {
		t.Fatalf("login B: %d %s", loginB.StatusCode(), loginB.Body)
	}
	refused := func(what string, cred client.PasskeyCredential) {
		t.Helper()
		resp := stepUp(t, app, access, client.StepUpRequest{Passkey: &cred})
		if resp.StatusCode() != http.StatusForbidden || problemSlug(resp.Body) != "invalid-mfa-code" {
			t.Errorf("%s: %d %s, want 403 invalid-mfa-code", what, resp.StatusCode(), resp.Body)
		}
	}
	optsOf := func(tok string) map[string]any {
		t.Helper()
		resp := stepUpPasskeyOptions(t, app, tok)
		if resp.JSON200 == nil {
			t.Fatalf("options: %d %s", resp.StatusCode(), resp.Body)
		}
		return resp.JSON200.Options
	}
	refused("B's passkey for A's ceremony", authB.Assert(t, optsOf(access), testkit.PasskeyOrigin, testkit.WithCredential(idB)))
	refused("B's ceremony", authB.Assert(t, optsOf(loginB.JSON200.AccessToken), testkit.PasskeyOrigin))
	refused("a ceremony of A's other session", authA.Assert(t, optsOf(other), testkit.PasskeyOrigin))
	refused("forged origin", authA.Assert(t, optsOf(access), "https://evil.example"))
	if got := securityEvents(t, app, a.Id, "mfa_failed"); got != 4 {
		t.Errorf("mfa_failed for A %d, want 4", got)
	}
	stepUpOK(t, app, access, client.StepUpRequest{Passkey: ptrTo(authA.Assert(t, optsOf(access), testkit.PasskeyOrigin))})
}

func ptrTo[T any](v T) *T { return &v }
