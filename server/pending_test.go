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
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
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

func TestPending_AnEarlierRegistrationCannotSetTheOwnersPassword(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	victim := testkit.UniqueEmail()
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: attackerPassword})
	attackersLink := testkit.LinkToken(t, mp.WaitForMail(victim, 1)[0].Text)
	app.Clock.Advance(time.Hour) // the victim comes later, past the mail throttle

	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: victimPassword})
	victimsLink := testkit.LinkToken(t, mp.WaitForMail(victim, 2)[1].Text)
	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: attackersLink, Password: victimPassword}); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("the link mailed for the attacker's registration: %d, want 400", r.StatusCode())
	}
	if got := loginStatus(t, app, victim, victimPassword); got != http.StatusForbidden {
		t.Errorf("login before the victim redeems: %d, want 403 (no account yet)", got)
	}
	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: victimsLink, Password: victimPassword}); r.JSON200 == nil {
		t.Fatalf("the victim redeems the newest link: %d %s", r.StatusCode(), r.Body)
	}
	if got := loginStatus(t, app, victim, victimPassword); got != http.StatusOK {
		t.Errorf("login with the victim's password: %d, want 200", got)
	}
	if got := loginStatus(t, app, victim, attackerPassword); got != http.StatusUnauthorized {
		t.Errorf("login with the attacker's password: %d, want 401", got)
	}
	if n := app.PendingRegistrations(t, victim); n != 0 {
		t.Errorf("%d pending registrations left after redemption, want 0", n)
	}
}

func TestPending_TheOnlyLinkInTheInboxTakesTheRedeemersPassword(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	victim := testkit.UniqueEmail()
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: attackerPassword})
	// Within the mail throttle: the victim's registration mails nothing, so
	// the inbox holds one link, mailed for the attacker's registration.
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: victimPassword})
	link := testkit.LinkToken(t, mp.WaitForMail(victim, 1)[0].Text)

	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: victimPassword}); r.JSON200 == nil {
		t.Fatalf("the victim redeems the link with their password: %d %s", r.StatusCode(), r.Body)
	}
	if got := loginStatus(t, app, victim, victimPassword); got != http.StatusOK {
		t.Errorf("login with the victim's password: %d, want 200", got)
	}
	if got := loginStatus(t, app, victim, attackerPassword); got != http.StatusUnauthorized {
		t.Errorf("login with the attacker's password: %d, want 401", got)
	}
	if got := len(mp.MailTo(victim)); got != 1 {
		t.Errorf("%d mails, want 1 (the throttle holds)", got)
	}
}

func TestPending_AWrongPasswordLeavesTheLinkWorking(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: victimPassword})
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)

	wrong, err := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: attackerPassword})
	if err != nil {
		t.Fatal(err)
	}
	if p := wrong.ApplicationproblemJSON403; p == nil || !strings.HasSuffix(p.Type, "/wrong-password") {
		t.Fatalf("a password of no registration: %d %s, want 403 wrong-password", wrong.StatusCode(), wrong.Body)
	}
	for _, pw := range []string{attackerPassword, victimPassword} {
		if got := loginStatus(t, app, email, pw); got == http.StatusOK {
			t.Errorf("a refused redemption created the account (login with %q: 200)", pw)
		}
	}
	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: victimPassword}); r.JSON200 == nil {
		t.Fatalf("the same link with the right password: %d %s", r.StatusCode(), r.Body)
	}
	app.Login(t, email, victimPassword)
}

func TestPending_ResendMailsALinkForTheAddressNotForARegistration(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	victim := testkit.UniqueEmail()
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: victimPassword})
	first := testkit.LinkToken(t, mp.WaitForMail(victim, 1)[0].Text)
	app.Clock.Advance(time.Hour)
	app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: victim, Password: attackerPassword}, testkit.From("203.0.113.9"))
	mp.WaitForMail(victim, 2)
	app.Clock.Advance(time.Hour)

	// The newest registration is the attacker's; the resent link still
	// creates the account with the password its redeemer types.
	if r, _ := app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: victim}); r.JSON202 == nil {
		t.Fatalf("resend: %d", r.StatusCode())
	}
	resent := testkit.LinkToken(t, mp.WaitForMail(victim, 3)[2].Text)
	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: first, Password: victimPassword}); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("a link mailed before the resend: %d, want 400", r.StatusCode())
	}
	if r, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: resent, Password: victimPassword}); r.JSON200 == nil {
		t.Fatalf("the resent link: %d %s", r.StatusCode(), r.Body)
	}
	app.Login(t, victim, victimPassword)
	if got := loginStatus(t, app, victim, attackerPassword); got != http.StatusUnauthorized {
		t.Errorf("login with the attacker's password: %d, want 401", got)
	}
}

func TestPending_AnAddressKeepsOnlyItsNewestRegistrations(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t), testkit.NoLimits, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	register := func(pw, ip string) {
		r, err := app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: pw}, testkit.From(ip))
		if err != nil || r.JSON202 == nil {
			t.Errorf("register: %v", err)
		}
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() { register(fmt.Sprintf("Flood-Pass-%d", i), fmt.Sprintf("198.51.100.%d", i+1)) })
	}
	wg.Wait()
	if n := app.PendingRegistrations(t, email); n != server.PendingPerAddress {
		t.Errorf("%d pending registrations after 8 concurrent ones, want %d", n, server.PendingPerAddress)
	}

	var newest []string
	for i := range server.PendingPerAddress {
		pw := fmt.Sprintf("Later-Pass-%d", i)
		register(pw, "192.0.2.1")
		newest = append(newest, pw)
	}
	if n := app.PendingRegistrations(t, email); n != server.PendingPerAddress {
		t.Errorf("%d pending registrations, want %d", n, server.PendingPerAddress)
	}
	for _, pw := range newest {
		if got := loginStatus(t, app, email, pw); got != http.StatusForbidden {
			t.Errorf("login with a kept registration's password: %d, want 403", got)
		}
	}
	if got := loginStatus(t, app, email, "Flood-Pass-0"); got != http.StatusUnauthorized {
		t.Errorf("login with an evicted registration's password: %d, want 401", got)
	}
	before := hashesDone(t, app)
	loginStatus(t, app, email, "Wrong-Pass-9")
	if n := hashesDone(t, app) - before; n > server.PendingPerAddress+1 {
		t.Errorf("a login checked %v password hashes, want at most %d", n, server.PendingPerAddress+1)
	}
}

// hashesDone is how many password hashes the app computed or verified.
func hashesDone(t *testing.T, app *testkit.App) uint64 {
	t.Helper()
	families, err := app.Server.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, f := range families {
		if f.GetName() == "authd_password_hash_duration_seconds" {
			for _, m := range f.GetMetric() {
				n += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return n
}

func TestPending_AnOlderAccountVerifiesWithItsOwnPassword(t *testing.T) {
	t.Parallel()
	db := testkit.IsolatedDatabase(t)
	before := testkit.NewApp(t, testkit.FastHashing, db) // verification not yet required
	u := before.Register(t, testkit.UniqueEmail(), testkit.Password)
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, testkit.FastHashing, db, requireVerified)
	app.StartMailWorker(t, mp.SMTPURL())
	ctx := context.Background()

	app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: u.Email})
	link := testkit.LinkToken(t, mp.WaitForMail(u.Email, 1)[0].Text)
	wrong, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: attackerPassword})
	if wrong.StatusCode() != http.StatusForbidden {
		t.Fatalf("the link with a password that is not the account's: %d %s, want 403", wrong.StatusCode(), wrong.Body)
	}
	ok, _ := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: testkit.Password})
	if ok.JSON200 == nil || ok.JSON200.EmailVerifiedAt == nil {
		t.Fatalf("the link with the account's password: %d %s", ok.StatusCode(), ok.Body)
	}
	app.Login(t, u.Email, testkit.Password)
}

func TestPending_ConcurrentRedemptionsCreateOneAccount(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	email := testkit.UniqueEmail()
	app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: email, Password: victimPassword})
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
	var wg sync.WaitGroup
	statuses := make([]int, 10)
	for i := range statuses {
		wg.Go(func() {
			r, err := app.Client.VerifyEmailWithResponse(context.Background(), client.VerifyEmailRequest{Token: link, Password: victimPassword}, testkit.From(fmt.Sprintf("198.51.100.%d", i+1)))
			if err != nil {
				t.Error(err)
				return
			}
			statuses[i] = r.StatusCode()
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case http.StatusOK:
			created++
		case http.StatusBadRequest:
		default:
			t.Errorf("a concurrent redemption answered %d", s)
		}
	}
	if created != 1 {
		t.Errorf("%d redemptions created the account, want 1", created)
	}
}
