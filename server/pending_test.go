package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// The attack of issue 11: someone registers a victim's address first, with a
// password of their own, and waits for the victim to verify it.
const (
	attackerPassword = "Attacker-Pass-1"
	victimPassword   = "Victims-Own-Pass-2"
)

// loginStatus is the status of a login with email and pw.
func loginStatus(t *testing.T, app *testkit.App, email, pw string) int {
	t.Helper()
	r, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode()
}

// redeem redeems a verification link with pw and returns the answer.
func redeem(t *testing.T, app *testkit.App, link, pw string) *client.VerifyEmailResponse {
	t.Helper()
	r, err := app.Client.VerifyEmailWithResponse(context.Background(), client.VerifyEmailRequest{Token: link, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// registerFrom registers email with pw from ip and fails the test unless it got a 202.
func registerFrom(t *testing.T, app *testkit.App, email, pw, ip string) {
	t.Helper()
	r, err := app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: email, Password: pw}, testkit.From(ip))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusAccepted {
		t.Fatalf("register from %s: %d %s, want 202", ip, r.StatusCode(), r.Body)
	}
}

func TestPending_TheRedeemerChoosesThePasswordOfAnyLinkInTheInbox(t *testing.T) {
	t.Parallel()
	for name, victimMailed := range map[string]bool{"victim's registration throttled": false, "victim's registration mailed": true} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			app, mp := mailApp(t, requireVerified)
			victim := testkit.UniqueEmail()
			registerFrom(t, app, victim, attackerPassword, "203.0.113.9")
			mp.WaitForMail(victim, 1)
			if victimMailed {
				app.Clock.Advance(time.Hour) // past the mail throttle: a new link replaces the attacker's
			}
			registerFrom(t, app, victim, victimPassword, "192.0.2.1")
			mails := 1
			if victimMailed {
				mails = 2
			}
			inbox := mp.WaitForMail(victim, mails)
			link := testkit.LinkToken(t, inbox[len(inbox)-1].Text) // the newest link in the inbox

			if r := redeem(t, app, link, victimPassword); r.JSON200 == nil {
				t.Fatalf("the victim redeems the link with their password: %d %s", r.StatusCode(), r.Body)
			}
			app.Login(t, victim, victimPassword)
			if got := loginStatus(t, app, victim, attackerPassword); got != http.StatusUnauthorized {
				t.Errorf("login with the attacker's password: %d, want 401", got)
			}
			if r := redeem(t, app, link, attackerPassword); r.StatusCode() != http.StatusBadRequest {
				t.Errorf("the link a second time: %d, want 400 (it works once)", r.StatusCode())
			}
			if n := app.PendingRegistrations(t, victim); n != 0 {
				t.Errorf("%d pending registrations left after redemption, want 0", n)
			}
		})
	}
}

// Review finding 1: a registration of an address that has an account, with
// the account's own password, must not change how the account logs in.
func TestPending_ReRegisteringDoesNotAffectTheOwnersLogin(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	owner := testkit.UniqueEmail()
	registerFrom(t, app, owner, victimPassword, "192.0.2.1")
	if r := redeem(t, app, testkit.LinkToken(t, mp.WaitForMail(owner, 1)[0].Text), victimPassword); r.JSON200 == nil {
		t.Fatalf("verify: %d %s", r.StatusCode(), r.Body)
	}

	// The owner forgot they had an account, or a sprayer guessed the
	// password: either registers the address again with the account's password.
	registerFrom(t, app, owner, victimPassword, "203.0.113.9")
	if got := loginStatus(t, app, owner, victimPassword); got != http.StatusOK {
		t.Errorf("the owner's login after a registration with the same password: %d, want 200", got)
	}
}

// Review finding 2: strangers registering an address, as often as their
// budgets let them, cannot keep its owner from registering and redeeming.
func TestPending_StrangersCannotStopTheOwnerFromRegistering(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	victim := testkit.UniqueEmail()
	for i := range 8 {
		// Each stranger spends what its budgets allow; each registration
		// that passes mails a link and kills the one before.
		testkit.Must(app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: victim, Password: fmt.Sprintf("Stranger-Pass-%d", i)}, testkit.From(fmt.Sprintf("203.0.113.%d", i+1))))(t)
		app.Clock.Advance(time.Minute)
	}
	registerFrom(t, app, victim, victimPassword, "192.0.2.1")
	// The mailbox's hourly budget caps what reaches it, whoever asks; the
	// owner redeems whatever link arrived last with their own password.
	testkit.WaitUntil(t, 30*time.Second, 50*time.Millisecond, func() bool { return pendingMail(t, app) == 0 },
		func() string { return "mail still pending" })
	inbox := mp.WaitForMail(victim, 1)
	if limit := app.Deps.Limits.MailAddress.Rate; len(inbox) > limit {
		t.Errorf("%d mails reached the address in 9 minutes, want at most %d", len(inbox), limit)
	}
	link := testkit.LinkToken(t, inbox[len(inbox)-1].Text)
	if r := redeem(t, app, link, victimPassword); r.JSON200 == nil {
		t.Fatalf("the owner redeems the newest link: %d %s", r.StatusCode(), r.Body)
	}
	app.Login(t, victim, victimPassword)
	for _, i := range []int{0, 3, 7} { // a few: failed logins back off
		if got := loginStatus(t, app, victim, fmt.Sprintf("Stranger-Pass-%d", i)); got != http.StatusUnauthorized {
			t.Errorf("login with stranger %d's password: %d, want 401", i, got)
		}
	}
}

func TestPending_AWeakPasswordAtRedemptionLeavesTheLinkWorking(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	email := testkit.UniqueEmail()
	registerFrom(t, app, email, victimPassword, "192.0.2.1")
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)

	weak := redeem(t, app, link, "short")
	if weak.StatusCode() != http.StatusUnprocessableEntity || !strings.Contains(string(weak.Body), `"field":"password"`) {
		t.Fatalf("a weak password at redemption: %d %s, want a 422 about password", weak.StatusCode(), weak.Body)
	}
	if got := loginStatus(t, app, email, "short"); got != http.StatusUnauthorized {
		t.Errorf("a refused redemption created the account: login %d", got)
	}
	if r := redeem(t, app, link, victimPassword); r.JSON200 == nil {
		t.Fatalf("the same link with a good password: %d %s", r.StatusCode(), r.Body)
	}
	app.Login(t, email, victimPassword)
}

func TestPending_AnAddressWithOnlyAPendingRegistrationLogsInLikeAnUnknownOne(t *testing.T) {
	t.Parallel()
	app, _ := mailApp(t, requireVerified)
	pending, unknown := testkit.UniqueEmail(), testkit.UniqueEmail()
	registerFrom(t, app, pending, victimPassword, "192.0.2.1")
	answer := func(email string) string {
		r, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: victimPassword})
		if err != nil {
			t.Fatal(err)
		}
		if r.ApplicationproblemJSON401 == nil {
			return fmt.Sprint(r.StatusCode())
		}
		return fmt.Sprint(r.StatusCode(), " ", r.ApplicationproblemJSON401.Type, " ", r.ApplicationproblemJSON401.Detail)
	}
	if p, u := answer(pending), answer(unknown); p != u || !strings.HasPrefix(p, "401") {
		t.Errorf("login of a pending address: %q; of an unknown one: %q", p, u)
	}
}

func TestPending_ResendReplacesTheLinkAndEachLinkWorksOnce(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	registerFrom(t, app, email, victimPassword, "192.0.2.1")
	first := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
	app.Clock.Advance(time.Hour)
	if r := testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: email}))(t); r.JSON202 == nil {
		t.Fatalf("resend: %d", r.StatusCode())
	}
	resent := testkit.LinkToken(t, mp.WaitForMail(email, 2)[1].Text)
	if r := redeem(t, app, first, victimPassword); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("a link mailed before the resend: %d, want 400", r.StatusCode())
	}
	if r := redeem(t, app, resent, victimPassword); r.JSON200 == nil {
		t.Fatalf("the resent link: %d %s", r.StatusCode(), r.Body)
	}
	if r := redeem(t, app, resent, attackerPassword); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("the resent link a second time: %d, want 400", r.StatusCode())
	}
	app.Login(t, email, victimPassword)
	if got := loginStatus(t, app, email, attackerPassword); got != http.StatusUnauthorized {
		t.Errorf("login with another password: %d, want 401", got)
	}
}

// An account from before verification was required verifies with its own
// password, whether its link was mailed before the upgrade (an account
// token) or after it (by a resend or a registration).
func TestPending_AnOlderAccountVerifiesWithItsOwnPassword(t *testing.T) {
	t.Parallel()
	database := testkit.IsolatedDatabase(t)
	before := testkit.NewApp(t, testkit.FastHashing, database) // verification not yet required
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, testkit.FastHashing, database, requireVerified)
	app.StartMailWorker(t, mp.SMTPURL())
	ctx := context.Background()

	links := map[string]func(email string) string{
		"mailed before the upgrade": func(email string) string {
			u, err := app.Deps.DB.Queries().GetUserByEmail(ctx, email)
			if err != nil {
				t.Fatal(err)
			}
			tok := token.NewOpaque()
			err = app.Deps.DB.Queries().ReplaceAccountToken(ctx, db.ReplaceAccountTokenParams{
				UserID: u.ID, Kind: "verify_email", TokenHash: token.HashOpaque(tok), ExpiresAt: app.Clock.Now().Add(time.Hour), Now: app.Clock.Now(),
			})
			if err != nil {
				t.Fatal(err)
			}
			return tok
		},
		"resent": func(email string) string {
			testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: email}))(t)
			return testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
		},
		"registered again": func(email string) string {
			registerFrom(t, app, email, attackerPassword, "203.0.113.9")
			return testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
		},
	}
	for name, mailLink := range links {
		u := before.Register(t, testkit.UniqueEmail(), testkit.Password)
		if got := loginStatus(t, app, u.Email, testkit.Password); got != http.StatusForbidden {
			t.Fatalf("%s: login before verifying: %d, want 403", name, got)
		}
		link := mailLink(u.Email)
		wrong := redeem(t, app, link, attackerPassword)
		if p := wrong.ApplicationproblemJSON403; p == nil || !strings.HasSuffix(p.Type, "/wrong-password") {
			t.Fatalf("%s: the link with a password that is not the account's: %d %s, want 403 wrong-password", name, wrong.StatusCode(), wrong.Body)
		}
		ok := redeem(t, app, link, testkit.Password)
		if ok.JSON200 == nil || ok.JSON200.EmailVerifiedAt == nil {
			t.Fatalf("%s: the link with the account's password: %d %s", name, ok.StatusCode(), ok.Body)
		}
		app.Login(t, u.Email, testkit.Password)
		if got := loginStatus(t, app, u.Email, attackerPassword); got != http.StatusUnauthorized {
			t.Errorf("%s: login with another password: %d, want 401", name, got)
		}
		if r := redeem(t, app, link, testkit.Password); r.StatusCode() != http.StatusBadRequest {
			t.Errorf("%s: the link a second time: %d, want 400", name, r.StatusCode())
		}
	}
}

func TestPending_ConcurrentRedemptionsCreateOneAccount(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	email := testkit.UniqueEmail()
	registerFrom(t, app, email, victimPassword, "192.0.2.1")
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			pw := fmt.Sprintf("Racer-Pass-%d", i)
			r, err := app.Client.VerifyEmailWithResponse(context.Background(), client.VerifyEmailRequest{Token: link, Password: pw}, testkit.From(fmt.Sprintf("198.51.100.%d", i+1)))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.StatusCode()
		})
	}
	wg.Wait()
	var winners []int
	for i, s := range statuses {
		switch s {
		case http.StatusOK:
			winners = append(winners, i)
		case http.StatusBadRequest:
		default:
			t.Errorf("a concurrent redemption answered %d", s)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("%d redemptions created the account, want 1", len(winners))
	}
	app.Login(t, email, fmt.Sprintf("Racer-Pass-%d", winners[0]))
}

// Upgrading to migration 0008 keeps the links already mailed; the password a
// registration named before the upgrade is gone, and the redeemer's counts.
func TestPending_ALinkMailedBeforeTheUpgradeTakesTheRedeemersPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t), requireVerified)
	pool := app.Deps.DB.Pool()
	mig, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mig.Close() })
	if err := mig.DownTo(ctx, 7); err != nil {
		t.Fatal(err)
	}
	victim, owner := testkit.UniqueEmail(), testkit.UniqueEmail()
	link := token.NewOpaque()
	attackersHash, err := app.Deps.Hasher.Hash(ctx, attackerPassword)
	if err != nil {
		t.Fatal(err)
	}
	// Before 0008: the first registrant's row held the address with their
	// password, and a shadow row stood for a registration of an account's address.
	_, err = pool.Exec(ctx, `INSERT INTO pending_registrations (email, password_hash, token_hash, shadow, expires_at)
		VALUES ($1, $2, $3, false, $5), ($4, $2, NULL, true, $5)`, victim, attackersHash, token.HashOpaque(link), owner, app.Clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mig.Up(ctx); err != nil {
		t.Fatal(err)
	}

	if r := redeem(t, app, link, victimPassword); r.JSON200 == nil {
		t.Fatalf("a link mailed before the upgrade: %d %s", r.StatusCode(), r.Body)
	}
	app.Login(t, victim, victimPassword)
	if got := loginStatus(t, app, victim, attackerPassword); got != http.StatusUnauthorized {
		t.Errorf("login with the password stored before the upgrade: %d, want 401", got)
	}
	if n := app.PendingRegistrations(t, owner); n != 0 {
		t.Errorf("%d shadow rows left after the upgrade, want 0", n)
	}
}

// TestPending_AnOlderAccountsPasswordAtTheLinkCountsLikeALogin: whoever
// holds a verification link of an account from before verification was
// required must not be able to guess its password there without the login
// backoff and without a trace in its events.
func TestPending_AnOlderAccountsPasswordAtTheLinkCountsLikeALogin(t *testing.T) {
	t.Parallel()
	database := testkit.IsolatedDatabase(t)
	before := testkit.NewApp(t, testkit.FastHashing, database)
	app := testkit.NewApp(t, testkit.FastHashing, database, requireVerified, withLimits(func(l *server.Limits) {
		l.BackoffAfter, l.BackoffBase, l.BackoffMax = 3, time.Second, 8*time.Second
		l.Token = ratelimit.Limit{Rate: 1000, Period: time.Minute} // out of the way
	}))
	ctx := context.Background()
	u := before.Register(t, testkit.UniqueEmail(), testkit.Password)
	tok := token.NewOpaque()
	if err := app.Deps.DB.Queries().ReplaceAccountToken(ctx, db.ReplaceAccountTokenParams{
		UserID: u.Id, Kind: "verify_email", TokenHash: token.HashOpaque(tok), ExpiresAt: app.Clock.Now().Add(time.Hour), Now: app.Clock.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if r := redeem(t, app, tok, fmt.Sprintf("Guess-Number-%d", i)); r.StatusCode() != http.StatusForbidden {
			t.Fatalf("guess %d: %d, want 403", i+1, r.StatusCode())
		}
	}
	if r := redeem(t, app, tok, testkit.Password); r.StatusCode() != http.StatusTooManyRequests {
		t.Errorf("after 3 wrong guesses: %d, want 429 (the login backoff), even with the right password", r.StatusCode())
	}
	var failed int
	if err := app.Deps.DB.Pool().QueryRow(ctx, "SELECT count(*) FROM security_events WHERE user_id = $1 AND kind = 'login_failed'", u.Id).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if failed != 3 {
		t.Errorf("%d login_failed events after 3 wrong guesses, want 3", failed)
	}
}
