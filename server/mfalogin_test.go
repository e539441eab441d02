package server_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// requireMFA is AUTHD_REQUIRE_MFA=true.
var requireMFA testkit.Option = func(d *server.Deps) { d.MFA.Require = true }

// mfaUser registers a user, logs in and activates an authenticator app: it
// returns the user, the app's secret and the recovery codes.
func mfaUser(t *testing.T, app *testkit.App) (client.User, string, []string) {
	t.Helper()
	u, pair := app.NewUser(t)
	_, secret, codes := app.EnrolTOTP(t, pair.AccessToken)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	return u, secret, codes
}

// mfaChallenge logs in with the right password and fails the test unless
// the answer is a 202 challenge without tokens.
func mfaChallenge(t *testing.T, app *testkit.App, email string, edit ...client.RequestEditorFn) *client.MfaChallenge {
	t.Helper()
	resp := testkit.Must(app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(email), edit...))(t)
	if resp.StatusCode() != http.StatusAccepted || resp.JSON202 == nil {
		t.Fatalf("login %s: status %d, want 202: %s", email, resp.StatusCode(), resp.Body)
	}
	if strings.Contains(string(resp.Body), "access_token") || strings.Contains(string(resp.Body), "refresh_token") {
		t.Fatalf("a login with a second factor answered tokens: %s", resp.Body)
	}
	if got := resp.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("202 Cache-Control %q, want no-store", got)
	}
	return resp.JSON202
}

// verifyCode sends the second step with a TOTP code.
func verifyCode(t *testing.T, app *testkit.App, mfaToken, code string, edit ...client.RequestEditorFn) *client.VerifyMfaResponse {
	t.Helper()
	return testkit.Must(app.Client.VerifyMfaWithResponse(context.Background(), client.MfaVerifyRequest{MfaToken: mfaToken, Code: &code}, edit...))(t)
}

// verifyRecovery sends the second step with a recovery code.
func verifyRecovery(t *testing.T, app *testkit.App, mfaToken, code string) *client.VerifyMfaResponse {
	t.Helper()
	return testkit.Must(app.Client.VerifyMfaWithResponse(context.Background(), client.MfaVerifyRequest{MfaToken: mfaToken, RecoveryCode: &code}))(t)
}

// wantStatus fails the test unless resp answered status (and, for a
// problem, of the type ending in problem).
func wantStatus(t *testing.T, what string, resp *client.VerifyMfaResponse, status int, problem string) {
	t.Helper()
	if resp.StatusCode() != status {
		t.Fatalf("%s: status %d, want %d: %s", what, resp.StatusCode(), status, resp.Body)
	}
	if problem != "" && !strings.Contains(string(resp.Body), `"https://authd.dev/problems/`+problem+`"`) {
		t.Fatalf("%s: problem %s, want %s", what, resp.Body, problem)
	}
}

// verifiedClaims checks access against the app's published JWKS (at the
// app's clock) and returns its claims.
func verifiedClaims(t *testing.T, app *testkit.App, access string) jwt.Token {
	t.Helper()
	resp := testkit.Must(app.Client.GetJWKSWithResponse(context.Background()))(t)
	set, err := jwk.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.ParseString(access, jwt.WithKeySet(set), jwt.WithClock(jwt.ClockFunc(app.Clock.Now)))
	if err != nil {
		t.Fatalf("access token does not verify with the JWKS: %v", err)
	}
	return tok
}

func TestMfaLogin_CodeCompletesLoginWithAssuranceLevel2(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, secret, _ := mfaUser(t, app)

	ch := mfaChallenge(t, app, u.Email)
	if ch.EnrollmentRequired || ch.ExpiresIn != 300 || ch.MfaToken == "" ||
		!slices.Equal(ch.Methods, []string{"totp", "recovery_code"}) {
		t.Fatalf("challenge %+v", ch)
	}
	app.Clock.Advance(20 * time.Second) // the login completes later than the password was checked
	before := app.Clock.Now().Unix()
	resp := verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0))
	after := app.Clock.Now().Unix()
	wantStatus(t, "verify", resp, http.StatusOK, "")
	pair := resp.JSON200
	if pair.RecoveryCodes != nil || resp.HTTPResponse.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token pair %s, Cache-Control %q", resp.Body, resp.HTTPResponse.Header.Get("Cache-Control"))
	}

	tok := verifiedClaims(t, app, pair.AccessToken)
	var amr []any
	var aal, authTime float64
	var acr string
	for name, dst := range map[string]any{"amr": &amr, "aal": &aal, "acr": &acr, "auth_time": &authTime} {
		if err := tok.Get(name, dst); err != nil {
			t.Fatalf("claim %s: %v", name, err)
		}
	}
	if !slices.Equal(amr, []any{"pwd", "otp"}) || aal != 2 || acr != "aal2" {
		t.Errorf("amr %v aal %v acr %q, want [pwd otp] 2 aal2", amr, aal, acr)
	}
	// auth_time is when the login completed: at the second factor.
	if int64(authTime) < before || int64(authTime) > after {
		t.Errorf("auth_time %v, want the time of the second step (%d..%d)", authTime, before, after)
	}
	if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(pair.AccessToken)))(t); me.JSON200 == nil || me.JSON200.Id != u.Id {
		t.Fatalf("the new access token does not work: %d", me.StatusCode())
	}
	// Refresh keeps the level and the original auth_time.
	next := refresh(t, app, pair.RefreshToken).JSON200
	var refreshedAuthTime float64
	if err := verifiedClaims(t, app, next.AccessToken).Get("auth_time", &refreshedAuthTime); err != nil || refreshedAuthTime != authTime {
		t.Errorf("refreshed auth_time %v (%v), want %v", refreshedAuthTime, err, authTime)
	}

	// The challenge was single use.
	wantStatus(t, "the challenge again", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 1)), http.StatusUnauthorized, "invalid-mfa-token")
	wantStatus(t, "an unknown challenge", verifyCode(t, app, "not-a-challenge", app.TOTP(t, secret, 1)), http.StatusUnauthorized, "invalid-mfa-token")
}

func TestMfaLogin_RecoveryCodeWorksOnce(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t), // no other test's worker sends its mail
		withLimits(func(l *server.Limits) { l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} })) // a login per code
	u, _, codes := mfaUser(t, app)

	// Case, spaces and dashes do not matter.
	typed := strings.ToLower(strings.ReplaceAll(codes[3], "-", " "))
	resp := verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, typed)
	wantStatus(t, "recovery code", resp, http.StatusOK, "")
	var amr []any
	if err := verifiedClaims(t, app, resp.JSON200.AccessToken).Get("amr", &amr); err != nil || !slices.Equal(amr, []any{"pwd", "otp"}) {
		t.Errorf("amr %v (%v), want [pwd otp]", amr, err)
	}
	wantStatus(t, "the same recovery code again", verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, codes[3]), http.StatusForbidden, "invalid-mfa-code")
	wantStatus(t, "another recovery code", verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, codes[4]), http.StatusOK, "")

	page := events(t, app, resp.JSON200.AccessToken, &client.ListEventsParams{Limit: ptr(100)})
	if got := slices.Index(kinds(page), "recovery_code_used"); got < 0 {
		t.Errorf("events %v, want recovery_code_used", kinds(page))
	}
	if n := countKinds(kinds(page), "recovery_code_used"); n != 2 {
		t.Errorf("%d recovery_code_used events, want 2 (one per code spent)", n)
	}
	if n := countKinds(kinds(page), "mfa_failed"); n != 1 {
		t.Errorf("%d mfa_failed events, want 1 (the reused code)", n)
	}
	var notices int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM mail_outbox WHERE recipient = $1 AND kind = $2", u.Email, mail.KindRecoveryCodeUsed).Scan(&notices); err != nil {
		t.Fatal(err)
	}
	if notices < 1 {
		t.Errorf("no %s notice in the outbox", mail.KindRecoveryCodeUsed)
	}
	// The challenge no longer offers recovery codes once none is left.
	for _, c := range codes {
		if c != codes[3] && c != codes[4] {
			wantStatus(t, "spending every code", verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, c), http.StatusOK, "")
		}
	}
	if ch := mfaChallenge(t, app, u.Email); !slices.Equal(ch.Methods, []string{"totp"}) {
		t.Errorf("methods %v with no recovery code left, want [totp]", ch.Methods)
	}
}

func countKinds(kinds []string, kind string) int {
	n := 0
	for _, k := range kinds {
		if k == kind {
			n++
		}
	}
	return n
}

func TestMfaLogin_ReplayedAndEarlierCodesAreRefused(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, secret, _ := mfaUser(t, app)

	code := app.TOTP(t, secret, 0)
	wantStatus(t, "the current code", verifyCode(t, app, mfaChallenge(t, app, u.Email).MfaToken, code), http.StatusOK, "")
	ch := mfaChallenge(t, app, u.Email)
	wantStatus(t, "the same code again", verifyCode(t, app, ch.MfaToken, code), http.StatusForbidden, "invalid-mfa-code")
	// The previous step is still within the skew, but earlier than one spent.
	wantStatus(t, "the previous step's code", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, -1)), http.StatusForbidden, "invalid-mfa-code")
	// The next step (a phone a little ahead) is fresh: it completes this challenge.
	wantStatus(t, "the next step's code", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 1)), http.StatusOK, "")

	// Half a minute later the code that was current is a step back, and
	// spent: only a later step's code is accepted.
	app.Clock.Advance(30 * time.Second)
	ch = mfaChallenge(t, app, u.Email)
	wantStatus(t, "an earlier step after a later one", verifyCode(t, app, ch.MfaToken, code), http.StatusForbidden, "invalid-mfa-code")
	wantStatus(t, "a later step", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 1)), http.StatusOK, "")
}

func TestMfaLogin_ConcurrentUseOfOneCodeAdmitsOne(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, secret, _ := mfaUser(t, app)
	const n = 8
	tokens := make([]string, n)
	for i := range n { // each from a client of its own, so no backoff is near
		tokens[i] = mfaChallenge(t, app, u.Email, testkit.From("198.51.100."+strconv.Itoa(10+i))).MfaToken
	}
	code := app.TOTP(t, secret, 0)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := app.Client.VerifyMfaWithResponse(context.Background(),
				client.MfaVerifyRequest{MfaToken: tokens[i], Code: &code}, testkit.From("198.51.100."+strconv.Itoa(10+i)))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = resp.StatusCode()
		}()
	}
	close(start)
	wg.Wait()
	ok, refused := 0, 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			ok++
		case http.StatusForbidden:
			refused++
		}
	}
	if ok != 1 || refused != n-1 {
		t.Fatalf("statuses %v: want exactly one 200 and %d 403", statuses, n-1)
	}
}

// mfaBackoffApp: the backoff starts after 8 counted attempts, 1 s doubling.
func mfaBackoffApp(t *testing.T) *testkit.App {
	return testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.BackoffAfter, l.BackoffBase, l.BackoffMax = 8, time.Second, 8*time.Second
		l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} // out of the way
	}))
}

func TestMfaLogin_WrongCodesKillTheChallengeAndBackOff(t *testing.T) {
	t.Parallel()
	app := mfaBackoffApp(t)
	u, secret, _ := mfaUser(t, app)
	const ip = "198.51.100.40"
	from := testkit.From(ip)
	wrong := func() string { // a code of none of the steps the app accepts
		for c := 0; ; c++ {
			code := strconv.Itoa(100000 + c)
			if code != app.TOTP(t, secret, -1) && code != app.TOTP(t, secret, 0) && code != app.TOTP(t, secret, 1) {
				return code
			}
		}
	}()

	// Attempt 1 is the login, 2..6 the wrong codes: the fifth kills the challenge.
	ch := mfaChallenge(t, app, u.Email, from)
	for i := range 5 {
		wantStatus(t, "wrong code "+strconv.Itoa(i+1), verifyCode(t, app, ch.MfaToken, wrong, from), http.StatusForbidden, "invalid-mfa-code")
	}
	wantStatus(t, "the right code after 5 wrong ones", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0), from), http.StatusUnauthorized, "invalid-mfa-token")

	// Attempts 7 (login) and 8 (wrong code): from then on this client waits.
	ch = mfaChallenge(t, app, u.Email, from)
	wantStatus(t, "wrong code 6", verifyCode(t, app, ch.MfaToken, wrong, from), http.StatusForbidden, "invalid-mfa-code")
	resp := verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0), from)
	wantStatus(t, "the right code in the backoff", resp, http.StatusTooManyRequests, "login-backoff")
	if resp.HTTPResponse.Header.Get("Retry-After") != "1" {
		t.Errorf("Retry-After %q, want 1", resp.HTTPResponse.Header.Get("Retry-After"))
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, ip); got != http.StatusTooManyRequests {
		t.Fatalf("the right password in the backoff: %d, want 429", got)
	}
	// Another client is not affected.
	mfaChallenge(t, app, u.Email, testkit.From("198.51.100.41"))

	// The right password after the wait does not forgive: the next attempt waits again.
	app.Clock.Advance(time.Second)
	ch = mfaChallenge(t, app, u.Email, from)
	resp = verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0), from)
	wantStatus(t, "the right code right after the right password", resp, http.StatusTooManyRequests, "login-backoff")
	wait, _ := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After"))
	if wait != 2 {
		t.Errorf("Retry-After %d, want 2 (the backoff went on doubling)", wait)
	}

	// The right code after the wait completes the login and forgives.
	app.Clock.Advance(time.Duration(wait) * time.Second)
	resp = verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0), from)
	wantStatus(t, "the right code after the wait", resp, http.StatusOK, "")
	for i := range 3 {
		if got, _ := attempt(t, app, u.Email, "Wrong-Horse-8", ip); got != http.StatusUnauthorized {
			t.Fatalf("failure %d after the second factor succeeded: %d, want 401 (forgiven)", i+1, got)
		}
	}
	page := events(t, app, resp.JSON200.AccessToken, &client.ListEventsParams{Limit: ptr(100)})
	if n := countKinds(kinds(page), "mfa_failed"); n != 6 {
		t.Errorf("%d mfa_failed events, want 6: %v", n, kinds(page))
	}
}

func TestMfaLogin_ExpiredChallengeIsRefused(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, secret, _ := mfaUser(t, app)
	ch := mfaChallenge(t, app, u.Email)
	app.Clock.Advance(app.Deps.MFA.ChallengeTTL + time.Second)
	wantStatus(t, "an expired challenge", verifyCode(t, app, ch.MfaToken, app.TOTP(t, secret, 0)), http.StatusUnauthorized, "invalid-mfa-token")
	wantStatus(t, "a fresh challenge", verifyCode(t, app, mfaChallenge(t, app, u.Email).MfaToken, app.TOTP(t, secret, 0)), http.StatusOK, "")
}

// resetPassword resets u's password to newPassword through the mailed link.
func resetPassword(t *testing.T, app *testkit.App, email, newPassword string) {
	t.Helper()
	ctx := context.Background()
	forgot(t, app, email)
	var sealed string
	if err := app.Deps.DB.Pool().QueryRow(ctx, "SELECT text_body FROM mail_outbox WHERE recipient = $1 AND kind = $2 ORDER BY created_at DESC LIMIT 1",
		email, mail.KindPasswordReset).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	body, err := app.Sealer.Open(sealed)
	if err != nil {
		t.Fatal(err)
	}
	resp := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: testkit.LinkToken(t, body), NewPassword: newPassword}))(t)
	if resp.StatusCode() != http.StatusNoContent && resp.StatusCode() != http.StatusOK {
		t.Fatalf("reset: %d %s", resp.StatusCode(), resp.Body)
	}
}

func TestMfaLogin_PasswordResetKeepsTheFactorAndVoidsChallenges(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t)) // the reset mail stays in the outbox
	u, secret, _ := mfaUser(t, app)
	before := mfaChallenge(t, app, u.Email)

	const newPassword = "Other-Horse-9"
	resetPassword(t, app, u.Email, newPassword)
	wantStatus(t, "a challenge from before the reset", verifyCode(t, app, before.MfaToken, app.TOTP(t, secret, 0)), http.StatusUnauthorized, "invalid-mfa-token")

	resp := testkit.Must(app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: u.Email, Password: newPassword}))(t)
	if resp.JSON202 == nil {
		t.Fatalf("login after the reset: %d, want 202 (the factor stays): %s", resp.StatusCode(), resp.Body)
	}
	wantStatus(t, "the code after the reset", verifyCode(t, app, resp.JSON202.MfaToken, app.TOTP(t, secret, 0)), http.StatusOK, "")
}

func TestMfaLogin_RequiredEnrolment(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, requireMFA)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	app.Register(t, email, testkit.Password)

	ch := mfaChallenge(t, app, email)
	if !ch.EnrollmentRequired || len(ch.Methods) != 0 {
		t.Fatalf("challenge %+v, want enrollment_required and no methods", ch)
	}
	wantStatus(t, "a code before enrolling", verifyCode(t, app, ch.MfaToken, "123456"), http.StatusForbidden, "invalid-mfa-code")
	first := testkit.Must(app.Client.EnrollMfaTotpWithResponse(ctx, client.MfaEnrollRequest{MfaToken: ch.MfaToken}))(t)
	if first.JSON201 == nil {
		t.Fatalf("enrol: %d %s", first.StatusCode(), first.Body)
	}
	// A second call replaces the factor the first one enrolled.
	e := testkit.Must(app.Client.EnrollMfaTotpWithResponse(ctx, client.MfaEnrollRequest{MfaToken: ch.MfaToken, FriendlyName: ptr("Phone")}))(t)
	if e.JSON201 == nil || e.JSON201.Factor.FriendlyName != "Phone" || e.HTTPResponse.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("enrol again: %d %s", e.StatusCode(), e.Body)
	}
	wantStatus(t, "the replaced factor's code", verifyCode(t, app, ch.MfaToken, app.TOTP(t, first.JSON201.Secret, 0)), http.StatusForbidden, "invalid-mfa-code")
	resp := verifyCode(t, app, ch.MfaToken, app.TOTP(t, e.JSON201.Secret, 0))
	wantStatus(t, "the enrolled factor's first code", resp, http.StatusOK, "")
	if resp.JSON200.RecoveryCodes == nil || len(*resp.JSON200.RecoveryCodes) != 10 {
		t.Fatalf("token pair of a required enrolment: %s, want 10 recovery codes", resp.Body)
	}
	var amr []any
	if err := verifiedClaims(t, app, resp.JSON200.AccessToken).Get("amr", &amr); err != nil || !slices.Equal(amr, []any{"pwd", "otp"}) {
		t.Errorf("amr %v (%v), want [pwd otp]", amr, err)
	}

	// Now the account has a factor: a normal challenge, which cannot enrol.
	next := mfaChallenge(t, app, email)
	if next.EnrollmentRequired || !slices.Equal(next.Methods, []string{"totp", "recovery_code"}) {
		t.Fatalf("challenge after enrolling %+v", next)
	}
	if r := testkit.Must(app.Client.EnrollMfaTotpWithResponse(ctx, client.MfaEnrollRequest{MfaToken: next.MfaToken}))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("enrolling with a normal challenge: %d, want 401", r.StatusCode())
	}
	wantStatus(t, "a recovery code of the enrolment", verifyRecovery(t, app, next.MfaToken, (*resp.JSON200.RecoveryCodes)[0]), http.StatusOK, "")
}

func TestMfaLogin_EnrolmentChallengeDiesOnceAFactorExists(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, requireMFA)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	app.Register(t, email, testkit.Password)
	a, b := mfaChallenge(t, app, email), mfaChallenge(t, app, email)
	e := testkit.Must(app.Client.EnrollMfaTotpWithResponse(ctx, client.MfaEnrollRequest{MfaToken: a.MfaToken}))(t).JSON201
	wantStatus(t, "enrolment a", verifyCode(t, app, a.MfaToken, app.TOTP(t, e.Secret, 0)), http.StatusOK, "")
	// b was an enrolment challenge too: it cannot add a second factor
	// past the first one.
	if r := testkit.Must(app.Client.EnrollMfaTotpWithResponse(ctx, client.MfaEnrollRequest{MfaToken: b.MfaToken}))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("enrolling with an enrolment challenge of an account that has a factor: %d, want 401", r.StatusCode())
	}
}

func TestMfaLogin_MetricsCountOutcomes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, secret, codes := mfaUser(t, app)

	ch := mfaChallenge(t, app, u.Email)
	wantStatus(t, "wrong", verifyCode(t, app, ch.MfaToken, "000000"), http.StatusForbidden, "")
	code := app.TOTP(t, secret, 0)
	wantStatus(t, "right", verifyCode(t, app, ch.MfaToken, code), http.StatusOK, "")
	wantStatus(t, "used challenge", verifyCode(t, app, ch.MfaToken, code), http.StatusUnauthorized, "")
	wantStatus(t, "replayed", verifyCode(t, app, mfaChallenge(t, app, u.Email).MfaToken, code), http.StatusForbidden, "")
	wantStatus(t, "recovery", verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, codes[0]), http.StatusOK, "")

	for sample, want := range map[string]float64{
		`authd_logins_total{outcome="mfa_required"}`:                                     3,
		`authd_logins_total{outcome="success"}`:                                          1, // NewUser's, before the factor
		`authd_mfa_verifications_total{method="totp",outcome="success"}`:                 1,
		`authd_mfa_verifications_total{method="totp",outcome="wrong_code"}`:              1,
		`authd_mfa_verifications_total{method="totp",outcome="replayed"}`:                1,
		`authd_mfa_verifications_total{method="totp",outcome="challenge_dead"}`:          1,
		`authd_mfa_verifications_total{method="recovery_code",outcome="success"}`:        1,
		`authd_mfa_verifications_total{method="recovery_code",outcome="wrong_code"}`:     0,
		`authd_mfa_verifications_total{method="totp",outcome="throttled"}`:               0,
		`authd_mfa_factor_changes_total{event="activated"}`:                              1,
		`authd_http_requests_total{method="POST",route="/auth/mfa/verify",status="200"}`: 2,
	} {
		if got := scrape(t, app, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
}
