package testkit_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/authd/authd/server/testkit"
)

type vuser struct {
	id    []byte
	creds []webauthn.Credential
}

func (u *vuser) WebAuthnID() []byte                         { return u.id }
func (u *vuser) WebAuthnName() string                       { return "a@example.com" }
func (u *vuser) WebAuthnDisplayName() string                { return "a@example.com" }
func (u *vuser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func relyingParty(t *testing.T) *webauthn.WebAuthn {
	t.Helper()
	w, err := webauthn.New(&webauthn.Config{
		RPID: testkit.PasskeyRPID, RPDisplayName: "authd", RPOrigins: []string{testkit.PasskeyOrigin},
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementRequired, UserVerification: protocol.VerificationRequired,
		},
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: 5 * time.Minute},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// The virtual authenticator's registration and assertions verify against
// go-webauthn, the counter rises, and its attack knobs are refused.
func TestVirtualAuthenticatorAgainstGoWebauthn(t *testing.T) {
	w := relyingParty(t)
	u := &vuser{id: []byte("0123456789abcdef")}
	auth := testkit.NewAuthenticator()
	auth.BackupEligible, auth.BackupState = true, true

	creation, sd, err := w.BeginRegistration(u)
	if err != nil {
		t.Fatal(err)
	}
	cred, vc := auth.Register(t, asMap(t, creation.Response), testkit.PasskeyOrigin)
	body, _ := json.Marshal(cred)
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	c, err := w.CreateCredential(u, *sd, parsed)
	if err != nil {
		t.Fatalf("create credential: %v", err)
	}
	if string(c.ID) != string(vc.ID) || !c.Flags.UserVerified || !c.Flags.BackupEligible || !c.Flags.BackupState {
		t.Fatalf("credential %+v", c)
	}
	if string(c.Authenticator.AAGUID) != string(testkit.TestAAGUID[:]) {
		t.Fatalf("aaguid %x", c.Authenticator.AAGUID)
	}
	u.creds = append(u.creds, *c)

	login := func(knobs ...testkit.Knob) (*webauthn.Credential, error) {
		req, sd, err := w.BeginDiscoverableLogin()
		if err != nil {
			t.Fatal(err)
		}
		a := auth.Assert(t, asMap(t, req.Response), testkit.PasskeyOrigin, knobs...)
		body, _ := json.Marshal(a)
		parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
		if err != nil {
			t.Fatal(err)
		}
		return w.ValidateDiscoverableLogin(func(_, handle []byte) (webauthn.User, error) { return u, nil }, *sd, parsed)
	}
	got, err := login()
	if err != nil {
		t.Fatalf("discoverable login: %v", err)
	}
	if got.Authenticator.SignCount != 1 {
		t.Fatalf("sign count %d", got.Authenticator.SignCount)
	}
	u.creds[0].Authenticator.SignCount = got.Authenticator.SignCount

	// allowCredentials
	req, sd2, err := w.BeginLogin(u)
	if err != nil {
		t.Fatal(err)
	}
	a := auth.Assert(t, asMap(t, req.Response), testkit.PasskeyOrigin)
	body, _ = json.Marshal(a)
	parsedA, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		t.Fatal(err)
	}
	got, err = w.ValidateLogin(u, *sd2, parsedA)
	if err != nil || got.Authenticator.SignCount != 2 {
		t.Fatalf("login: %v, count %d", err, got.Authenticator.SignCount)
	}
	u.creds[0].Authenticator.SignCount = 2

	auth.SetSignCount(vc.ID, 0)
	got, err = login()
	if err != nil || !got.Authenticator.CloneWarning {
		t.Fatalf("clone: %v, warning %v", err, got != nil && got.Authenticator.CloneWarning)
	}

	for name, k := range map[string]testkit.Knob{"no UV": testkit.WithoutUV(), "rpId": testkit.WithRPIDHash("evil.example")} {
		if _, err := login(k); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	req, sd3, _ := w.BeginDiscoverableLogin()
	a = auth.Assert(t, asMap(t, req.Response), "https://evil.example")
	body, _ = json.Marshal(a)
	parsedA, _ = protocol.ParseCredentialRequestResponseBytes(body)
	if _, err := w.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return u, nil }, *sd3, parsedA); err == nil {
		t.Error("forged origin accepted")
	}
}
