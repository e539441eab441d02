package server_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"image/png"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/pquerna/otp"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// manyPasswordChecks lifts the per-user budget of requests that check the
// password (PUT /users/me, step-up, enrolment...), for tests that make
// many of them on purpose.
var manyPasswordChecks = withLimits(func(l *server.Limits) { l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} })

// listFactors is GET /users/me/factors, which must answer 200.
func listFactors(t *testing.T, app *testkit.App, access string) client.FactorList {
	t.Helper()
	resp := testkit.Must(app.Client.ListFactorsWithResponse(context.Background(), testkit.Bearer(access)))(t)
	if resp.JSON200 == nil {
		t.Fatalf("list factors: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// startTotp is POST /users/me/factors/totp.
func startTotp(t *testing.T, app *testkit.App, access string) *client.StartTotpEnrollmentResponse {
	t.Helper()
	return testkit.Must(app.Client.StartTotpEnrollmentWithResponse(context.Background(), client.StartTotpRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))(t)
}

// verifyFactor is POST /users/me/factors/{id}/verify.
func verifyFactor(t *testing.T, app *testkit.App, access string, id uuid.UUID, code string) *client.VerifyFactorResponse {
	t.Helper()
	return testkit.Must(app.Client.VerifyFactorWithResponse(context.Background(), id, client.CodeRequest{Code: code}, testkit.Bearer(access)))(t)
}

// deleteFactor is DELETE /users/me/factors/{id}.
func deleteFactor(t *testing.T, app *testkit.App, access string, id uuid.UUID) *client.DeleteFactorResponse {
	t.Helper()
	return testkit.Must(app.Client.DeleteFactorWithResponse(context.Background(), id, client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))(t)
}

// withCode enrols a first factor for a fresh user and steps the session up
// with its current code: an aal 2 pair, the factor, its secret and codes.
func withCode(t *testing.T, app *testkit.App) (client.User, client.TokenPair, client.Factor, string, []string) {
	t.Helper()
	u, pair := app.NewUser(t)
	f, secret, codes := app.EnrolTOTP(t, pair.AccessToken)
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))})
	return u, raised, f, secret, codes
}

var recoveryCodeShape = regexp.MustCompile(`^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$`)

// TestFactors_EnrolVerifyAndList: enrolment gives the secret, an otpauth
// URI with the configured issuer and label and a PNG QR code; a wrong
// first code is refused, the right one activates the factor with 10
// recovery codes, recorded (factor_added) and mailed.
func TestFactors_EnrolVerifyAndList(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, func(d *server.Deps) {
		d.MFA.Issuer, d.MFA.AccountLabel = "Acme Staff", "staff {email}"
	})
	u, pair := app.NewUser(t)
	start := startTotp(t, app, pair.AccessToken)
	if start.JSON201 == nil {
		t.Fatalf("start: %d %s", start.StatusCode(), start.Body)
	}
	e := start.JSON201
	key, err := otp.NewKeyFromURL(e.OtpauthUri)
	if err != nil {
		t.Fatalf("otpauth URI %q: %v", e.OtpauthUri, err)
	}
	if key.Type() != "totp" || key.Issuer() != "Acme Staff" || key.AccountName() != "staff "+u.Email || key.Secret() != e.Secret ||
		key.Period() != 30 || key.Digits() != otp.DigitsSix || key.Algorithm() != otp.AlgorithmSHA1 {
		t.Errorf("otpauth URI %q: type %s issuer %q account %q period %d digits %s algorithm %s", e.OtpauthUri,
			key.Type(), key.Issuer(), key.AccountName(), key.Period(), key.Digits(), key.Algorithm())
	}
	raw, ok := strings.CutPrefix(e.QrCode, "data:image/png;base64,")
	if !ok {
		t.Fatalf("qr_code %.40q is not a PNG data URI", e.QrCode)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := png.Decode(bytes.NewReader(pngBytes)); err != nil || img.Bounds().Dx() < 100 {
		t.Errorf("qr_code does not decode as a PNG of a scannable size: %v", err)
	}
	if got := listFactors(t, app, pair.AccessToken); len(got.Factors) != 1 || got.Factors[0].Status != client.Unverified || got.RecoveryCodesRemaining != 0 {
		t.Errorf("factors during the enrolment: %+v", got)
	}

	if r := verifyFactor(t, app, pair.AccessToken, e.Factor.Id, app.TOTP(t, e.Secret, 10)); r.StatusCode() != http.StatusForbidden || problemSlug(r.Body) != "invalid-mfa-code" {
		t.Fatalf("a wrong first code: %d %s, want 403 invalid-mfa-code", r.StatusCode(), r.Body)
	}
	r := verifyFactor(t, app, pair.AccessToken, e.Factor.Id, app.TOTP(t, e.Secret, 0))
	if r.JSON200 == nil || r.JSON200.Factor.Status != client.Active || r.JSON200.RecoveryCodes == nil {
		t.Fatalf("the right first code: %d %s, want 200 with an active factor and recovery codes", r.StatusCode(), r.Body)
	}
	codes := *r.JSON200.RecoveryCodes
	if len(codes) != 10 || len(slices.Compact(slices.Sorted(slices.Values(codes)))) != 10 {
		t.Errorf("%d recovery codes (%v), want 10 distinct ones", len(codes), codes)
	}
	for _, c := range codes {
		if !recoveryCodeShape.MatchString(c) {
			t.Errorf("recovery code %q is not XXXX-XXXX-XXXX-XXXX", c)
		}
	}
	list := listFactors(t, app, pair.AccessToken)
	if len(list.Factors) != 1 || list.Factors[0].Id != e.Factor.Id || list.Factors[0].Status != client.Active ||
		list.Factors[0].LastUsedAt == nil || list.RecoveryCodesRemaining != 10 {
		t.Errorf("factors after verification: %+v", list)
	}
	if n := eventCount(t, app, pair.AccessToken, "factor_added"); n != 1 {
		t.Errorf("%d factor_added events, want 1", n)
	}
	if n := outboxCount(t, app, mail.KindFactorAdded, u.Email); n != 1 {
		t.Errorf("%d factor-added notices, want 1", n)
	}
	// Verifying again: the enrolment is over.
	if r := verifyFactor(t, app, pair.AccessToken, e.Factor.Id, app.TOTP(t, e.Secret, 1)); r.StatusCode() != http.StatusNotFound {
		t.Errorf("verifying an active factor again: %d, want 404", r.StatusCode())
	}
}

// TestFactors_SecondFactorGetsNoCodesAndFiveIsTheLimit: only the first
// factor comes with recovery codes; a sixth active factor is refused, and
// removing one of several keeps the recovery codes.
func TestFactors_SecondFactorGetsNoCodesAndFiveIsTheLimit(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	_, pair, first, _, codes := withCode(t, app)
	if len(codes) != 10 {
		t.Fatalf("first factor: %d recovery codes, want 10", len(codes))
	}
	for i := 2; i <= 5; i++ {
		if _, _, more := app.EnrolTOTP(t, pair.AccessToken); more != nil {
			t.Errorf("factor %d came with recovery codes %v", i, more)
		}
	}
	if r := startTotp(t, app, pair.AccessToken); r.StatusCode() != http.StatusConflict || problemSlug(r.Body) != "factor-limit" {
		t.Errorf("a sixth factor: %d %s, want 409 factor-limit", r.StatusCode(), r.Body)
	}
	if r := deleteFactor(t, app, pair.AccessToken, first.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("removing one of five: %d %s", r.StatusCode(), r.Body)
	}
	list := listFactors(t, app, pair.AccessToken)
	if len(list.Factors) != 4 || list.RecoveryCodesRemaining != 10 {
		t.Errorf("after removing one of five: %d factors, %d recovery codes; want 4 and 10", len(list.Factors), list.RecoveryCodesRemaining)
	}
	if r := startTotp(t, app, pair.AccessToken); r.StatusCode() != http.StatusCreated {
		t.Errorf("an enrolment with room again: %d %s, want 201", r.StatusCode(), r.Body)
	}
}

// TestFactors_UnverifiedEnrolmentExpires: 15 minutes after it started, an
// enrolment cannot be verified, is not listed and is pruned.
func TestFactors_UnverifiedEnrolmentExpires(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t)) // it prunes with an advanced clock
	_, pair := app.NewUser(t)
	start := startTotp(t, app, pair.AccessToken)
	if start.JSON201 == nil {
		t.Fatalf("start: %d %s", start.StatusCode(), start.Body)
	}
	e := start.JSON201
	if d := e.ExpiresAt.Sub(app.Clock.Now()); d < 14*time.Minute || d > 16*time.Minute {
		t.Errorf("expires_at %s, want about 15 minutes from now", e.ExpiresAt)
	}
	app.Clock.Advance(16 * time.Minute)
	fresh := refresh(t, app, pair.RefreshToken) // the access token has expired too
	if fresh.JSON200 == nil {
		t.Fatalf("refresh: %d %s", fresh.StatusCode(), fresh.Body)
	}
	access := fresh.JSON200.AccessToken
	if r := verifyFactor(t, app, access, e.Factor.Id, app.TOTP(t, e.Secret, 0)); r.StatusCode() != http.StatusNotFound {
		t.Errorf("verifying an expired enrolment: %d %s, want 404", r.StatusCode(), r.Body)
	}
	if got := listFactors(t, app, access); len(got.Factors) != 0 {
		t.Errorf("expired enrolment still listed: %+v", got.Factors)
	}
	if err := app.Server.PruneNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rows int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM mfa_factors WHERE id = $1", e.Factor.Id).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Error("the pruner left the expired enrolment")
	}
}

// TestFactors_OtherUsersFactorsAreNotFound: a factor id of another account
// is 404 to verify and to remove, and stays as it was.
func TestFactors_OtherUsersFactorsAreNotFound(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, owner, active, _, _ := withCode(t, app)
	start := startTotp(t, app, owner.AccessToken)
	if start.JSON201 == nil {
		t.Fatalf("start: %d %s", start.StatusCode(), start.Body)
	}
	pending := start.JSON201
	_, stranger := app.NewUser(t) // recent and without a factor: past the step-up gate
	if r := verifyFactor(t, app, stranger.AccessToken, pending.Factor.Id, app.TOTP(t, pending.Secret, 0)); r.StatusCode() != http.StatusNotFound {
		t.Errorf("verifying another user's enrolment with its right code: %d %s, want 404", r.StatusCode(), r.Body)
	}
	for _, id := range []uuid.UUID{active.Id, pending.Factor.Id} {
		if r := deleteFactor(t, app, stranger.AccessToken, id); r.StatusCode() != http.StatusNotFound {
			t.Errorf("removing another user's factor: %d %s, want 404", r.StatusCode(), r.Body)
		}
	}
	if r := verifyFactor(t, app, owner.AccessToken, pending.Factor.Id, app.TOTP(t, pending.Secret, 0)); r.JSON200 == nil {
		t.Errorf("the owner verifying its enrolment afterwards: %d %s, want 200", r.StatusCode(), r.Body)
	}
	if got := listFactors(t, app, owner.AccessToken); len(got.Factors) != 2 {
		t.Errorf("the owner has %d factors, want 2", len(got.Factors))
	}
}

// TestFactors_SecretIsSealedAndBoundToItsFactor: the database holds the TOTP
// secret encrypted, and a sealed secret copied onto another factor's row
// does not open there (it is bound to its factor's id).
func TestFactors_SecretIsSealedAndBoundToItsFactor(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair, first, secret, _ := withCode(t, app)
	second, _, _ := app.EnrolTOTP(t, pair.AccessToken)
	ctx, pool := context.Background(), app.Deps.DB.Pool()
	var sealed []byte
	if err := pool.QueryRow(ctx, "SELECT secret_sealed FROM mfa_factors WHERE id = $1", first.Id).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	rawSecret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.TrimRight(secret, "="))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte(secret)) || bytes.Contains(sealed, rawSecret) || len(sealed) <= len(rawSecret) {
		t.Fatalf("secret_sealed (%d bytes) holds the secret in clear", len(sealed))
	}
	// The second factor's row gets the first one's sealed secret, and the
	// first goes: only a row that could open it remains.
	if _, err := pool.Exec(ctx, `UPDATE mfa_factors AS f SET secret_kid = o.secret_kid, secret_sealed = o.secret_sealed
FROM mfa_factors AS o WHERE f.id = $1 AND o.id = $2`, second.Id, first.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM mfa_factors WHERE id = $1", first.Id); err != nil {
		t.Fatal(err)
	}
	app.Clock.Advance(30 * time.Second) // a step no factor has spent
	if r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))}); r.StatusCode() != http.StatusForbidden {
		t.Errorf("a code of the moved secret: %d %s, want 403 (the sealed secret must not open under another factor)", r.StatusCode(), r.Body)
	}
	if len(app.Logs.Lines("factor secret cannot be opened", second.Id.String())) == 0 {
		t.Error("the unopenable secret was not logged")
	}
}

// TestFactors_RemovalNeedsStepUpAndVoidsTheCodes: removing a factor needs a
// session stepped up with a code; removing the last one voids the recovery
// codes, is recorded and mailed, and the account is back to password-only.
func TestFactors_RemovalNeedsStepUpAndVoidsTheCodes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	u, pair := app.NewUser(t)
	f, secret, _ := app.EnrolTOTP(t, pair.AccessToken)
	if r := deleteFactor(t, app, pair.AccessToken, f.Id); r.StatusCode() != http.StatusUnauthorized || !strings.Contains(r.HTTPResponse.Header.Get("WWW-Authenticate"), `acr_values="aal2"`) {
		t.Fatalf("removal with a password-only session: %d %s, want 401 asking for aal2", r.StatusCode(), r.Body)
	}
	raised := stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))})
	if r := deleteFactor(t, app, raised.AccessToken, f.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("removal after step-up: %d %s, want 204", r.StatusCode(), r.Body)
	}
	if list := listFactors(t, app, raised.AccessToken); len(list.Factors) != 0 || list.RecoveryCodesRemaining != 0 {
		t.Errorf("after removing the last factor: %+v, want no factors and no recovery codes", list)
	}
	var stored int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM recovery_codes WHERE user_id = $1", u.Id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 0 {
		t.Errorf("%d recovery codes stored after the last factor went, want 0", stored)
	}
	if n := eventCount(t, app, raised.AccessToken, "factor_removed"); n != 1 {
		t.Errorf("%d factor_removed events, want 1", n)
	}
	if n := outboxCount(t, app, mail.KindFactorRemoved, u.Email); n != 1 {
		t.Errorf("%d factor-removed notices, want 1", n)
	}
	if r := deleteFactor(t, app, raised.AccessToken, f.Id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("removing it again: %d, want 404", r.StatusCode())
	}
	// Password-only again: the recent aal1 session passes the gate, and a
	// password step-up is accepted.
	if r := testkit.Must(app.Client.RegenerateRecoveryCodesWithResponse(context.Background(), client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)))(t); r.StatusCode() != http.StatusConflict || problemSlug(r.Body) != "factor-required" {
		t.Errorf("regenerate without a factor: %d %s, want 409 factor-required", r.StatusCode(), r.Body)
	}
	stepUpOK(t, app, raised.AccessToken, client.StepUpRequest{Password: ptr(testkit.Password)})

	// An enrolment that was never verified goes without an event or notice.
	start := startTotp(t, app, raised.AccessToken)
	if start.JSON201 == nil {
		t.Fatalf("start: %d %s", start.StatusCode(), start.Body)
	}
	if r := deleteFactor(t, app, raised.AccessToken, start.JSON201.Factor.Id); r.StatusCode() != http.StatusNoContent {
		t.Errorf("removing an enrolment: %d %s, want 204", r.StatusCode(), r.Body)
	}
	if n := eventCount(t, app, raised.AccessToken, "factor_removed"); n != 1 {
		t.Errorf("%d factor_removed events after removing an unverified enrolment, want still 1", n)
	}
}

// TestFactors_RegenerateVoidsTheOldSet: new recovery codes replace the old
// ones, which no longer work.
func TestFactors_RegenerateVoidsTheOldSet(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair, _, _, old := withCode(t, app)
	r := testkit.Must(app.Client.RegenerateRecoveryCodesWithResponse(context.Background(), client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)))(t)
	if r.JSON200 == nil {
		t.Fatalf("regenerate: %d %s", r.StatusCode(), r.Body)
	}
	fresh := r.JSON200.RecoveryCodes
	if len(fresh) != 10 || slices.ContainsFunc(fresh, func(c string) bool { return slices.Contains(old, c) }) {
		t.Errorf("new codes %v, want 10 none of which is an old one", fresh)
	}
	var stored int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM recovery_codes WHERE user_id = $1", u.Id).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 10 || listFactors(t, app, pair.AccessToken).RecoveryCodesRemaining != 10 {
		t.Errorf("%d recovery codes stored, want 10", stored)
	}
	if n := eventCount(t, app, pair.AccessToken, "recovery_codes_regenerated"); n != 1 {
		t.Errorf("%d recovery_codes_regenerated events, want 1", n)
	}
	if s := stepUp(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: &old[0]}); s.StatusCode() != http.StatusForbidden {
		t.Errorf("an old recovery code: %d, want 403", s.StatusCode())
	}
	stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: &fresh[0]})
}
