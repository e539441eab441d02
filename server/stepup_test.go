package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// assurance is what an access token says about its session's authentication.
type assurance struct {
	amr      []string
	aal      int
	acr      string
	authTime time.Time
}

// assuranceOf verifies access with the app's published JWKS, as a relying
// service would, at the app's clock, and returns its assurance claims.
func assuranceOf(t *testing.T, app *testkit.App, access string) assurance {
	t.Helper()
	tok := verifiedClaims(t, app, access)
	var a assurance
	var amr []any
	var aal, authTime float64
	if err := tok.Get("amr", &amr); err != nil {
		t.Fatalf("amr: %v", err)
	}
	for _, m := range amr {
		a.amr = append(a.amr, m.(string))
	}
	if err := tok.Get("aal", &aal); err != nil {
		t.Fatalf("aal: %v", err)
	}
	if err := tok.Get("acr", &a.acr); err != nil {
		t.Fatalf("acr: %v", err)
	}
	if err := tok.Get("auth_time", &authTime); err != nil {
		t.Fatalf("auth_time: %v", err)
	}
	a.aal, a.authTime = int(aal), time.Unix(int64(authTime), 0)
	return a
}

// span is the interval of the app's clock in which something happened.
type span struct{ from, to time.Time }

// timed runs f and returns when, on the app's clock.
func timed(app *testkit.App, f func()) span {
	from := app.Clock.Now()
	f()
	return span{from, app.Clock.Now()}
}

// wantAssurance fails unless a has the methods amr (in any order), the
// level they make and an auth_time (whole seconds) within when.
func wantAssurance(t *testing.T, what string, a assurance, amr []string, when span) {
	t.Helper()
	level := 1
	if slices.Contains(amr, "otp") {
		level = 2
	}
	got := slices.Sorted(slices.Values(a.amr))
	if !slices.Equal(got, slices.Sorted(slices.Values(amr))) || a.aal != level || a.acr != fmt.Sprintf("aal%d", level) {
		t.Errorf("%s: amr %v aal %d acr %q, want amr %v aal %d", what, a.amr, a.aal, a.acr, amr, level)
	}
	if a.authTime.Before(when.from.Truncate(time.Second)) || a.authTime.After(when.to) {
		t.Errorf("%s: auth_time %s, want between %s and %s", what, a.authTime, when.from, when.to)
	}
}

// stepUp sends POST /auth/step-up with the bearer access.
func stepUp(t *testing.T, app *testkit.App, access string, body client.StepUpRequest) *client.StepUpResponse {
	t.Helper()
	resp, err := app.Client.StepUpWithResponse(context.Background(), body, testkit.Bearer(access))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// stepUpOK steps up and fails the test unless it got a pair.
func stepUpOK(t *testing.T, app *testkit.App, access string, body client.StepUpRequest) client.TokenPair {
	t.Helper()
	resp := stepUp(t, app, access, body)
	if resp.JSON200 == nil {
		t.Fatalf("step-up: %d %s", resp.StatusCode(), resp.Body)
	}
	return *resp.JSON200
}

// problemSlug is the last segment of a problem body's type, "" if none.
func problemSlug(body []byte) string {
	var p struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Type[strings.LastIndex(p.Type, "/")+1:]
}

// answer is one response, read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// reader reads a client call's response, failing t on a transport error.
func reader(t *testing.T) func(*http.Response, error) answer {
	return func(resp *http.Response, err error) answer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return answer{resp.StatusCode, resp.Header, body}
	}
}

// sensitiveCalls are the operations behind step-up, each sent with a
// bearer token; factor is the id a factor (or identity) operation names.
func sensitiveCalls(t *testing.T, app *testkit.App, factor uuid.UUID) map[string]func(access string) answer {
	ctx, c, read := context.Background(), app.Client, reader(t)
	newEmail := testkit.UniqueEmail()
	return map[string]func(string) answer{
		"PUT /users/me": func(access string) answer {
			return read(c.UpdateMe(ctx, client.UpdateUserRequest{CurrentPassword: testkit.Password, Email: &newEmail}, testkit.Bearer(access)))
		},
		"DELETE /users/me": func(access string) answer {
			return read(c.DeleteMe(ctx, nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))
		},
		"DELETE /users/me/factors/{id}": func(access string) answer {
			return read(c.DeleteFactor(ctx, factor, client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))
		},
		"POST /users/me/recovery-codes": func(access string) answer {
			return read(c.RegenerateRecoveryCodes(ctx, client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))
		},
		"POST /users/me/factors/totp": func(access string) answer {
			return read(c.StartTotpEnrollment(ctx, client.StartTotpRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))
		},
		"DELETE /users/me/identities/{ref}": func(access string) answer {
			return read(c.DeleteIdentity(ctx, factor.String(), client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(access)))
		},
	}
}

// wantStepUpRequired fails unless a is the 401 step-up-required with the
// RFC 9470 challenge, asking for aal2 exactly when aal2 says so.
func wantStepUpRequired(t *testing.T, what string, a answer, aal2 bool) {
	t.Helper()
	if a.status != http.StatusUnauthorized || problemSlug(a.body) != "step-up-required" {
		t.Errorf("%s: %d %s, want 401 step-up-required", what, a.status, a.body)
		return
	}
	h := a.header.Get("WWW-Authenticate")
	if !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, "max_age=600") {
		t.Errorf("%s: WWW-Authenticate %q, want insufficient_user_authentication and max_age=600", what, h)
	}
	if got := strings.Contains(h, `acr_values="aal2"`); got != aal2 {
		t.Errorf("%s: WWW-Authenticate %q: acr_values=\"aal2\" present %v, want %v", what, h, got, aal2)
	}
}

// eventCount counts the events of kind in the user's trail.
func eventCount(t *testing.T, app *testkit.App, access string, kind string) int {
	t.Helper()
	limit := 100
	n := 0
	for _, e := range events(t, app, access, &client.ListEventsParams{Limit: &limit}).Events {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// outboxCount counts the mail of kind queued for to.
func outboxCount(t *testing.T, app *testkit.App, kind, to string) int {
	t.Helper()
	var n int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM mail_outbox WHERE kind = $1 AND recipient = $2", kind, to).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStepUp_SensitiveOperationsNeedARecentLogin: eleven minutes after the
// login every sensitive operation answers 401 step-up-required with the
// RFC 9470 challenge; refreshing keeps the old auth_time and does not help;
// a step-up with the password (the account has no factor) does.
func TestStepUp_SensitiveOperationsNeedARecentLogin(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	var pair client.TokenPair
	loggedIn := timed(app, func() { _, pair = app.NewUser(t) })
	wantAssurance(t, "login", assuranceOf(t, app, pair.AccessToken), []string{"pwd"}, loggedIn)

	app.Clock.Advance(11 * time.Minute)
	calls := sensitiveCalls(t, app, uuid.New())
	for what, call := range calls {
		wantStepUpRequired(t, what, call(pair.AccessToken), false)
	}
	refreshed := refresh(t, app, pair.RefreshToken)
	if refreshed.JSON200 == nil {
		t.Fatalf("refresh: %d %s", refreshed.StatusCode(), refreshed.Body)
	}
	wantAssurance(t, "refreshed", assuranceOf(t, app, refreshed.JSON200.AccessToken), []string{"pwd"}, loggedIn)
	wantStepUpRequired(t, "PUT /users/me after a refresh", calls["PUT /users/me"](refreshed.JSON200.AccessToken), false)

	var raised client.TokenPair
	when := timed(app, func() {
		raised = stepUpOK(t, app, refreshed.JSON200.AccessToken, client.StepUpRequest{Password: ptr(testkit.Password)})
	})
	wantAssurance(t, "stepped up", assuranceOf(t, app, raised.AccessToken), []string{"pwd"}, when)
	if a := calls["POST /users/me/recovery-codes"](raised.AccessToken); a.status != http.StatusConflict || problemSlug(a.body) != "factor-required" {
		t.Errorf("regenerate without a factor after step-up: %d %s, want 409 factor-required", a.status, a.body)
	}
	if a := calls["DELETE /users/me/factors/{id}"](raised.AccessToken); a.status != http.StatusNotFound {
		t.Errorf("remove an unknown factor after step-up: %d %s, want 404", a.status, a.body)
	}
	if a := calls["PUT /users/me"](raised.AccessToken); a.status != http.StatusOK {
		t.Errorf("PUT /users/me after step-up: %d %s, want 200", a.status, a.body)
	}
	if n := eventCount(t, app, raised.AccessToken, "step_up"); n != 1 {
		t.Errorf("%d step_up events, want 1", n)
	}
	// Step-up's age runs again from the step-up.
	app.Clock.Advance(11 * time.Minute)
	wantStepUpRequired(t, "DELETE /users/me 11 minutes after the step-up", calls["DELETE /users/me"](raised.AccessToken), false)
}

// TestStepUp_AccountWithAFactorNeedsACode: once the account has a factor, a
// recent password-only session is not enough (acr_values="aal2"), neither
// after a refresh nor with a password step-up (422, nothing checked or
// counted); a code raises the session to aal 2, once, and the refresh token
// from before the step-up is used up.
func TestStepUp_AccountWithAFactorNeedsACode(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	var pair client.TokenPair
	loggedIn := timed(app, func() { _, pair = app.NewUser(t) })
	factor, secret, _ := app.EnrolTOTP(t, pair.AccessToken)
	calls := sensitiveCalls(t, app, factor.Id)
	for what, call := range calls {
		wantStepUpRequired(t, what+" with an aal1 session", call(pair.AccessToken), true)
	}
	refreshed := refresh(t, app, pair.RefreshToken)
	if refreshed.JSON200 == nil {
		t.Fatalf("refresh: %d %s", refreshed.StatusCode(), refreshed.Body)
	}
	access := refreshed.JSON200.AccessToken
	wantAssurance(t, "refreshed", assuranceOf(t, app, access), []string{"pwd"}, loggedIn)
	wantStepUpRequired(t, "PUT /users/me after a refresh", calls["PUT /users/me"](access), true)

	pw := stepUp(t, app, access, client.StepUpRequest{Password: ptr("Wrong-Horse-8")})
	if pw.StatusCode() != http.StatusUnprocessableEntity || pw.ApplicationproblemJSON422.Errors == nil ||
		(*pw.ApplicationproblemJSON422.Errors)[0].Field != "code" {
		t.Fatalf("a password step-up on an account with a factor: %d %s, want 422 naming code", pw.StatusCode(), pw.Body)
	}
	if n := eventCount(t, app, access, "login_failed"); n != 0 {
		t.Errorf("the refused password step-up was checked: %d login_failed events", n)
	}

	wrong := stepUp(t, app, access, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 10))})
	if wrong.StatusCode() != http.StatusForbidden || problemSlug(wrong.Body) != "invalid-mfa-code" {
		t.Fatalf("a wrong code: %d %s, want 403 invalid-mfa-code", wrong.StatusCode(), wrong.Body)
	}
	code := app.TOTP(t, secret, 0)
	var raised client.TokenPair
	when := timed(app, func() { raised = stepUpOK(t, app, access, client.StepUpRequest{Code: &code}) })
	wantAssurance(t, "stepped up with a code", assuranceOf(t, app, raised.AccessToken), []string{"pwd", "otp"}, when)
	replay := stepUp(t, app, raised.AccessToken, client.StepUpRequest{Code: &code})
	if replay.StatusCode() != http.StatusForbidden || problemSlug(replay.Body) != "invalid-mfa-code" {
		t.Errorf("the same code again: %d %s, want 403 invalid-mfa-code", replay.StatusCode(), replay.Body)
	}
	if n := eventCount(t, app, raised.AccessToken, "mfa_failed"); n != 2 {
		t.Errorf("%d mfa_failed events, want 2 (the wrong code and the replay)", n)
	}
	if a := calls["PUT /users/me"](raised.AccessToken); a.status != http.StatusOK {
		t.Errorf("PUT /users/me after a code step-up: %d %s, want 200", a.status, a.body)
	}
	// A refresh of the raised session keeps its level and auth_time.
	app.Clock.Advance(time.Minute)
	again := refresh(t, app, raised.RefreshToken)
	if again.JSON200 == nil {
		t.Fatalf("refresh after step-up: %d %s", again.StatusCode(), again.Body)
	}
	wantAssurance(t, "refreshed after step-up", assuranceOf(t, app, again.JSON200.AccessToken), []string{"pwd", "otp"}, when)

	// The refresh token from before the step-up is used up: presenting it
	// is reuse, which ends the session.
	if old := refresh(t, app, refreshed.JSON200.RefreshToken); old.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("the pre-step-up refresh token: %d, want 401", old.StatusCode())
	}
	if got := meStatus(t, app, again.JSON200.AccessToken); got != http.StatusUnauthorized {
		t.Errorf("the session after its pre-step-up refresh token was replayed: %d, want 401", got)
	}
}

// TestStepUp_WrongCodesMeetTheLoginBackoff: wrong codes count like failed
// logins: after 5 the client waits, even with the right code, and the
// right code after the wait forgives it.
func TestStepUp_WrongCodesMeetTheLoginBackoff(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} // the per-user request budget is not under test
	}))
	_, pair := app.NewUser(t)
	_, secret, _ := app.EnrolTOTP(t, pair.AccessToken)
	for i := range 5 {
		r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 10+i))})
		if r.StatusCode() != http.StatusForbidden {
			t.Fatalf("wrong code %d: %d %s, want 403", i+1, r.StatusCode(), r.Body)
		}
	}
	r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))})
	if r.StatusCode() != http.StatusTooManyRequests || problemSlug(r.Body) != "login-backoff" {
		t.Fatalf("the right code after 5 wrong ones: %d %s, want 429 login-backoff", r.StatusCode(), r.Body)
	}
	if n := eventCount(t, app, pair.AccessToken, "mfa_failed"); n != 5 {
		t.Errorf("%d mfa_failed events, want 5", n)
	}
	app.Clock.Advance(time.Minute) // past the delay
	stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 0))})
	app.Clock.Advance(30 * time.Second)
	if r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Code: ptr(app.TOTP(t, secret, 10))}); r.StatusCode() != http.StatusForbidden {
		t.Errorf("a wrong code after a success: %d, want 403 (the success forgave the client)", r.StatusCode())
	}
}

// TestStepUp_WrongPasswordIsCounted: without a factor a wrong password at
// step-up is a failed login: 403 wrong-password, login_failed, backoff.
func TestStepUp_WrongPasswordIsCounted(t *testing.T) {
	t.Parallel()
	app := backoffApp(t) // 3 free failures
	_, pair := app.NewUser(t)
	for i := range 3 {
		r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Password: ptr("Wrong-Horse-8")})
		if r.StatusCode() != http.StatusForbidden || problemSlug(r.Body) != "wrong-password" {
			t.Fatalf("wrong password %d: %d %s, want 403 wrong-password", i+1, r.StatusCode(), r.Body)
		}
	}
	if r := stepUp(t, app, pair.AccessToken, client.StepUpRequest{Password: ptr(testkit.Password)}); r.StatusCode() != http.StatusTooManyRequests {
		t.Errorf("the right password after 3 wrong ones: %d, want 429", r.StatusCode())
	}
	if n := eventCount(t, app, pair.AccessToken, "login_failed"); n != 3 {
		t.Errorf("%d login_failed events, want 3", n)
	}
}

// TestStepUp_WithARecoveryCode: a recovery code raises the session to aal 2
// like a TOTP code, works once, is recorded and noticed by mail.
func TestStepUp_WithARecoveryCode(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	_, _, codes := app.EnrolTOTP(t, pair.AccessToken)
	// Case, spaces and dashes do not matter.
	typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))
	var raised client.TokenPair
	when := timed(app, func() { raised = stepUpOK(t, app, pair.AccessToken, client.StepUpRequest{RecoveryCode: &typed}) })
	wantAssurance(t, "stepped up with a recovery code", assuranceOf(t, app, raised.AccessToken), []string{"pwd", "otp"}, when)
	if r := stepUp(t, app, raised.AccessToken, client.StepUpRequest{RecoveryCode: &codes[3]}); r.StatusCode() != http.StatusForbidden {
		t.Errorf("the same recovery code again: %d, want 403", r.StatusCode())
	}
	list := testkit.Must(app.Client.ListFactorsWithResponse(context.Background(), testkit.Bearer(raised.AccessToken)))(t)
	if list.JSON200 == nil || list.JSON200.RecoveryCodesRemaining != 9 {
		t.Errorf("factors after one recovery code: %s, want 9 remaining", list.Body)
	}
	if n := eventCount(t, app, raised.AccessToken, "recovery_code_used"); n != 1 {
		t.Errorf("%d recovery_code_used events, want 1", n)
	}
	if n := outboxCount(t, app, "mfa_recovery_code_used", u.Email); n != 1 {
		t.Errorf("%d recovery-code notices, want 1", n)
	}
}
