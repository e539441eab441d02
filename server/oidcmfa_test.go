package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// TestFederatedLogin_AsksForTheSecondFactor: a provider's login is a first
// factor. An account with an authenticator app answers 202 at the code
// exchange, and the second step makes a session of amr [fed otp], aal 2.
func TestFederatedLogin_AsksForTheSecondFactor(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{})
	owner, pair := f.passwordAccount(true)
	_, secret, _ := f.app.EnrolTOTP(t, pair.AccessToken)
	u := f.idpUser(owner.Email, true)

	p := newPKCE()
	resp := f.exchange(f.login(f.browser(), u, p).Get("code"), p.verifier)
	if resp.StatusCode() != http.StatusAccepted || resp.JSON202 == nil || strings.Contains(string(resp.Body), "access_token") {
		t.Fatalf("exchange for an account with a factor: %d %s, want 202 without tokens", resp.StatusCode(), resp.Body)
	}
	if ch := resp.JSON202; ch.EnrollmentRequired || !slices.Contains(ch.Methods, "totp") {
		t.Errorf("challenge %+v", ch)
	}
	verify := verifyCode(t, f.app, resp.JSON202.MfaToken, f.app.TOTP(t, secret, 0))
	wantStatus(t, "verify", verify, http.StatusOK, "")
	amr, aal := amrAndAAL(t, f.app, verify.JSON200.AccessToken)
	if !slices.Equal(amr, []string{"fed", "otp"}) || aal != 2 {
		t.Errorf("amr %v aal %d, want [fed otp] 2", amr, aal)
	}
	if f.me(verify.JSON200.AccessToken).Id != owner.Id {
		t.Error("the session is not the account's")
	}
	if kinds := f.eventKinds(owner.Id.String()); kinds[len(kinds)-1] != "federated_login" {
		t.Errorf("events %v, want federated_login last", kinds)
	}
	// A password login still makes [pwd otp].
	ch := mfaChallenge(t, f.app, owner.Email)
	again := verifyCode(t, f.app, ch.MfaToken, f.app.TOTP(t, secret, 1))
	wantStatus(t, "verify after a password", again, http.StatusOK, "")
	if amr, _ := amrAndAAL(t, f.app, again.JSON200.AccessToken); !slices.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("password login amr %v, want [pwd otp]", amr)
	}
}

// TestFederatedLogin_RequiredEnrolment: with AUTHD_REQUIRE_MFA a first
// federated login must enrol a factor first, as a password login must.
func TestFederatedLogin_RequiredEnrolment(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{appOptions: []testkit.Option{requireMFA}})
	u := f.idpUser(testkit.UniqueEmail(), true)
	p := newPKCE()
	resp := f.exchange(f.login(f.browser(), u, p).Get("code"), p.verifier)
	if resp.StatusCode() != http.StatusAccepted || resp.JSON202 == nil || !resp.JSON202.EnrollmentRequired {
		t.Fatalf("exchange with MFA required: %d %s, want 202 enrollment_required", resp.StatusCode(), resp.Body)
	}
}
