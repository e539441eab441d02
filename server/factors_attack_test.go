package server_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// A thief holding a fresh access token, but not the password, cannot add
// an authenticator: enrolment asks for the password again, and a wrong one
// counts like a failed login.
func TestFactorAttack_EnrolmentNeedsThePassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	_, pair := app.NewUser(t)
	ctx := context.Background()
	for _, pw := range []string{"Wrong-Horse-8", "Correct-Horse-8"} {
		r := testkit.Must(app.Client.StartTotpEnrollmentWithResponse(ctx, client.StartTotpRequest{CurrentPassword: &pw}, testkit.Bearer(pair.AccessToken)))(t)
		if r.StatusCode() != http.StatusForbidden || r.ApplicationproblemJSON403.Type != "https://authd.dev/problems/wrong-password" {
			t.Fatalf("enrolment with a wrong password: %d %s", r.StatusCode(), r.Body)
		}
	}
	if n := eventCount(t, app, pair.AccessToken, "login_failed"); n != 2 {
		t.Errorf("%d login_failed events, want 2", n)
	}
	if f := listFactors(t, app, pair.AccessToken); len(f.Factors) != 0 {
		t.Errorf("a refused enrolment left factors: %+v", f.Factors)
	}
}

// An enrolment's first code cannot be guessed without end, nor from
// another session of the account (a stolen token of another session).
func TestFactorAttack_FirstCodeIsBoundToItsSessionAndCounted(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	u, owner := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)
	e := startTotp(t, app, owner.AccessToken).JSON201
	right := app.TOTP(t, e.Secret, 0)
	if r := verifyFactor(t, app, other.AccessToken, e.Factor.Id, right); r.StatusCode() != http.StatusNotFound {
		t.Fatalf("another session verified the enrolment: %d %s", r.StatusCode(), r.Body)
	}
	wrong := "000000"
	if wrong == right || wrong == app.TOTP(t, e.Secret, -1) || wrong == app.TOTP(t, e.Secret, 1) {
		wrong = "999999"
	}
	for i := 1; i <= 5; i++ {
		if r := verifyFactor(t, app, owner.AccessToken, e.Factor.Id, wrong); r.StatusCode() != http.StatusForbidden {
			t.Fatalf("wrong code %d: %d %s", i, r.StatusCode(), r.Body)
		}
	}
	if r := verifyFactor(t, app, owner.AccessToken, e.Factor.Id, right); r.StatusCode() != http.StatusNotFound {
		t.Errorf("the right code after 5 wrong ones: %d %s, want 404 (the enrolment ended)", r.StatusCode(), r.Body)
	}
	if n := eventCount(t, app, owner.AccessToken, "mfa_failed"); n != 5 {
		t.Errorf("%d mfa_failed events, want 5", n)
	}
}

// Racing enrolments of one account run one at a time (a new one replaces
// the pending one), so racing first activations leave one set of recovery
// codes, the one shown; and the factor count they check is never stale.
func TestFactorAttack_RacesLeaveOneSetOfCodes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	ctx := context.Background()

	// Each session starts its own enrolment at once, then verifies it.
	u, first := app.NewUser(t)
	const racers = 4 // within the login budget of one client and address
	sessions := []client.TokenPair{first}
	for len(sessions) < racers {
		sessions = append(sessions, app.Login(t, u.Email, testkit.Password))
	}
	enrolments := make([]*client.TotpEnrollment, racers)
	var wg sync.WaitGroup
	for i := range sessions {
		wg.Go(func() {
			if r := startTotp(t, app, sessions[i].AccessToken); r.JSON201 != nil {
				enrolments[i] = r.JSON201
			}
		})
	}
	wg.Wait()
	var shown [][]string
	var mu sync.Mutex
	for i, e := range enrolments {
		if e == nil {
			continue
		}
		wg.Go(func() {
			r := verifyFactor(t, app, sessions[i].AccessToken, e.Factor.Id, app.TOTP(t, e.Secret, 0))
			if r.JSON200 != nil && r.JSON200.RecoveryCodes != nil {
				mu.Lock()
				shown = append(shown, *r.JSON200.RecoveryCodes)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	var active, unused int
	pool := app.Deps.DB.Pool()
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM mfa_factors WHERE user_id = $1 AND verified_at IS NOT NULL", u.Id).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL", u.Id).Scan(&unused); err != nil {
		t.Fatal(err)
	}
	if active < 1 || len(shown) != 1 || unused != 10 {
		t.Fatalf("%d active factors, %d code sets shown, %d unused codes stored; want at least 1, 1 and 10", active, len(shown), unused)
	}

}

// A factor's name is shown in account pages: control and format characters
// are refused with a 4xx, never stored, and a NUL never reaches PostgreSQL.
func TestFactorAttack_NamesWithoutControlCharacters(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	_, pair := app.NewUser(t)
	for _, name := range []string{"ph\u0000one", "evil\u202eenohp", "two\nlines", "zero\u200bwidth"} {
		r := testkit.Must(app.Client.StartTotpEnrollmentWithResponse(context.Background(),
			client.StartTotpRequest{CurrentPassword: ptr(testkit.Password), FriendlyName: &name}, testkit.Bearer(pair.AccessToken)))(t)
		if r.StatusCode() != http.StatusBadRequest && r.StatusCode() != http.StatusUnprocessableEntity {
			t.Errorf("name %q: %d %s, want 400 or 422", name, r.StatusCode(), r.Body)
		}
	}
	if r := startTotp(t, app, pair.AccessToken); r.StatusCode() != http.StatusCreated {
		t.Errorf("a plain enrolment after the refused ones: %d %s", r.StatusCode(), r.Body)
	}
}

// A sealed secret is bound to its user too: a factor row moved to another
// account (a database write) does not open there.
func TestFactorAttack_SealedSecretIsBoundToItsUser(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	_, attacker := app.NewUser(t)
	f, secret, _ := app.EnrolTOTP(t, attacker.AccessToken)
	victim, _ := app.NewUser(t)
	if _, err := app.Deps.DB.Pool().Exec(context.Background(), "UPDATE mfa_factors SET user_id = $1 WHERE id = $2", victim.Id, f.Id); err != nil {
		t.Fatal(err)
	}
	login := testkit.Must(app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(victim.Email)))(t)
	if login.JSON202 == nil {
		t.Fatalf("login of the account that got the row: %d %s", login.StatusCode(), login.Body)
	}
	r := testkit.Must(app.Client.VerifyMfaWithResponse(context.Background(), client.MfaVerifyRequest{MfaToken: login.JSON202.MfaToken, Code: ptr(app.TOTP(t, secret, 1))}))(t)
	if r.StatusCode() != http.StatusForbidden {
		t.Errorf("a code of a factor moved to this account: %d %s, want 403", r.StatusCode(), r.Body)
	}
	if len(app.Logs.Lines("factor secret cannot be opened")) == 0 {
		t.Error("the unopenable secret was not logged")
	}
}

// A stolen access token of a fresh aal 2 session, without the password,
// can neither take the recovery codes nor strip the factor; with the
// password the new codes are mailed about.
func TestFactorAttack_RemovalAndNewCodesNeedThePassword(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, manyPasswordChecks)
	ctx := context.Background()
	u, secret, codes := mfaUser(t, app)
	stolen := verifyCode(t, app, mfaChallenge(t, app, u.Email).MfaToken, app.TOTP(t, secret, 0)).JSON200
	wrong := client.CurrentPasswordRequest{CurrentPassword: ptr("Wrong-Horse-8")}
	if r := testkit.Must(app.Client.RegenerateRecoveryCodesWithResponse(ctx, wrong, testkit.Bearer(stolen.AccessToken)))(t); r.StatusCode() != http.StatusForbidden {
		t.Errorf("new codes with a wrong password: %d %s", r.StatusCode(), r.Body)
	}
	list := listFactors(t, app, stolen.AccessToken)
	if r := testkit.Must(app.Client.DeleteFactorWithResponse(ctx, list.Factors[0].Id, wrong, testkit.Bearer(stolen.AccessToken)))(t); r.StatusCode() != http.StatusForbidden {
		t.Errorf("factor removal with a wrong password: %d %s", r.StatusCode(), r.Body)
	}
	if after := listFactors(t, app, stolen.AccessToken); len(after.Factors) != 1 || after.RecoveryCodesRemaining != 10 {
		t.Fatalf("refused changes changed the factors: %+v", after)
	}
	wantStatus(t, "the owner's recovery code", verifyRecovery(t, app, mfaChallenge(t, app, u.Email).MfaToken, codes[0]), http.StatusOK, "")

	right := client.CurrentPasswordRequest{CurrentPassword: ptr(testkit.Password)}
	if r := testkit.Must(app.Client.RegenerateRecoveryCodesWithResponse(ctx, right, testkit.Bearer(stolen.AccessToken)))(t); r.JSON200 == nil {
		t.Fatalf("new codes with the password: %d %s", r.StatusCode(), r.Body)
	}
	var notices int
	if err := app.Deps.DB.Pool().QueryRow(ctx, "SELECT count(*) FROM mail_outbox WHERE recipient = $1 AND kind = 'mfa_recovery_codes_regenerated'", u.Email).Scan(&notices); err != nil {
		t.Fatal(err)
	}
	if notices != 1 {
		t.Errorf("%d notices of new recovery codes, want 1", notices)
	}
}
