package testkit

import (
	"context"
	"net/http"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mfa"
)

// TOTP is the authenticator app's code for secret at the app's clock,
// steps 30-second steps from now (0 is the current code).
func (a *App) TOTP(t T, secret string, steps int) string {
	t.Helper()
	code, err := mfa.Code(secret, a.Clock.Now().Add(time.Duration(steps)*30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// EnrolTOTP enrols an authenticator app for the holder of access and
// activates it with the code of the previous step, so that the current
// code is still unspent; it fails the test unless both steps succeed. It
// returns the factor, its secret and, for a first factor, the recovery codes.
func (a *App) EnrolTOTP(t T, access string) (client.Factor, string, []string) {
	t.Helper()
	ctx := context.Background()
	pw := Password
	start, err := a.Client.StartTotpEnrollmentWithResponse(ctx, client.StartTotpRequest{CurrentPassword: &pw}, Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	if start.JSON201 == nil {
		t.Fatalf("start enrolment: status %d: %s", start.StatusCode(), start.Body)
	}
	e := start.JSON201
	step := mfa.Step(a.Clock.Now())
	verify, err := a.Client.VerifyFactorWithResponse(ctx, e.Factor.Id, client.CodeRequest{Code: a.TOTP(t, e.Secret, -1)}, Bearer(access))
	if err == nil && verify.StatusCode() == http.StatusForbidden && mfa.Step(a.Clock.Now()) != step {
		// A 30-second boundary passed between the code and its check: the
		// previous step's code fell out of the window. Once more, in this step.
		verify, err = a.Client.VerifyFactorWithResponse(ctx, e.Factor.Id, client.CodeRequest{Code: a.TOTP(t, e.Secret, -1)}, Bearer(access))
	}
	if err != nil {
		t.Fatal(err)
	}
	if verify.JSON200 == nil {
		t.Fatalf("verify factor: status %d: %s", verify.StatusCode(), verify.Body)
	}
	var codes []string
	if verify.JSON200.RecoveryCodes != nil {
		codes = *verify.JSON200.RecoveryCodes
	}
	return verify.JSON200.Factor, e.Secret, codes
}
