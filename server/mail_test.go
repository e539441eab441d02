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
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// mailApp is an app with its own database, a real SMTP server and an outbox
// worker sending to it.
func mailApp(t *testing.T, opts ...testkit.Option) (*testkit.App, *testkit.Mailpit) {
	t.Helper()
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, append([]testkit.Option{testkit.FastHashing, testkit.IsolatedDatabase(t)}, opts...)...)
	app.StartMailWorker(t, mp.SMTPURL())
	return app, mp
}

var requireVerified testkit.Option = func(d *server.Deps) { d.Mail.RequireVerified = true }

func TestMail_RegisterVerifyThenLogin(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()

	reg, err := app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	if reg.JSON202 == nil {
		t.Fatalf("register with verification on: %d, want 202", reg.StatusCode())
	}
	// No account before the link is redeemed: a login answers as for an
	// unknown address.
	login := testkit.Must(app.Client.LoginWithResponse(ctx, testkit.LoginBody(email)))(t)
	if login.ApplicationproblemJSON401 == nil || !strings.HasSuffix(login.ApplicationproblemJSON401.Type, "/invalid-credentials") {
		t.Fatalf("login before verifying: %d %s", login.StatusCode(), login.Body)
	}

	msg := mp.WaitForMail(email, 1)[0]
	if !strings.Contains(msg.Subject, "Confirm your email") || !strings.Contains(msg.HTML, "https://authd.example/verify-email?token=") {
		t.Errorf("verification mail: %q\n%s", msg.Subject, msg.HTML)
	}
	tok := testkit.LinkToken(t, msg.Text)
	verified, err := app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: tok, Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	if verified.JSON200 == nil || verified.JSON200.EmailVerifiedAt == nil {
		t.Fatalf("verify: %d %s", verified.StatusCode(), verified.Body)
	}
	app.Login(t, email, testkit.Password)

	again := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: tok, Password: testkit.Password}))(t)
	if again.ApplicationproblemJSON400 == nil || !strings.HasSuffix(again.ApplicationproblemJSON400.Type, "/invalid-token") {
		t.Errorf("a used token: %d %s", again.StatusCode(), again.Body)
	}
}

func TestMail_ResendReplacesTheLink(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password}))(t)
	first := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)

	// Within the throttle a resend mails nothing, and the link already
	// mailed must keep working rather than be replaced by an unsent one.
	if r := testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: email}))(t); r.JSON202 == nil {
		t.Fatalf("throttled resend: %d", r.StatusCode())
	}
	if got := len(mp.MailTo(email)); got != 1 {
		t.Fatalf("a throttled resend mailed: %d mails", got)
	}
	app.Clock.Advance(time.Minute)

	resp := testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: email}))(t)
	if resp.JSON202 == nil {
		t.Fatalf("resend: %d", resp.StatusCode())
	}
	second := testkit.LinkToken(t, mp.WaitForMail(email, 2)[1].Text)
	if old := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: first, Password: testkit.Password}))(t); old.StatusCode() != http.StatusBadRequest {
		t.Errorf("the replaced link still works: %d", old.StatusCode())
	}
	if ok := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: second, Password: testkit.Password}))(t); ok.StatusCode() != http.StatusOK {
		t.Errorf("the new link: %d", ok.StatusCode())
	}
}

func TestMail_RegisteringAnExistingAddressLooksLikeANewOne(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	existing := testkit.UniqueEmail()
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: existing, Password: testkit.Password}))(t)
	link := testkit.LinkToken(t, mp.WaitForMail(existing, 1)[0].Text)
	if r := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: testkit.Password}))(t); r.JSON200 == nil {
		t.Fatalf("verify: %d", r.StatusCode())
	}

	again := testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: strings.ToUpper(existing), Password: "Other-Horse-9"}))(t)
	fresh := testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: testkit.UniqueEmail(), Password: "Other-Horse-9"}))(t)
	if again.StatusCode() != fresh.StatusCode() || string(again.Body) != string(fresh.Body) {
		t.Errorf("existing %d %s, new %d %s: registration tells them apart", again.StatusCode(), again.Body, fresh.StatusCode(), fresh.Body)
	}
	notice := mp.WaitForMail(existing, 2)[1]
	if !strings.Contains(notice.Subject, "tried to register") || strings.Contains(notice.Text, "token=") {
		t.Errorf("owner's notice: %q\n%s", notice.Subject, notice.Text)
	}
}

func TestMail_ForgotAndResendAnswerAlikeForUnknownAddresses(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t)) // no mail is read: no Mailpit
	ctx := context.Background()
	known, _ := app.NewUser(t)
	strip := func(h http.Header, body []byte) string {
		return h.Get("Content-Type") + "|" + h.Get("RateLimit-Policy") + "|" + string(body)
	}
	for name, call := range map[string]func(email string) (int, string){
		"forgot": func(e string) (int, string) {
			r := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: e}))(t)
			return r.StatusCode(), strip(r.HTTPResponse.Header, r.Body)
		},
		"resend": func(e string) (int, string) {
			r := testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: e}))(t)
			return r.StatusCode(), strip(r.HTTPResponse.Header, r.Body)
		},
	} {
		ks, kb := call(known.Email)
		us, ub := call(testkit.UniqueEmail())
		if ks != http.StatusAccepted || ks != us || kb != ub {
			t.Errorf("%s: known %d %q, unknown %d %q", name, ks, kb, us, ub)
		}
	}
}

func TestMail_ForgotResetEndsEverySession(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)

	if r := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: u.Email}))(t); r.StatusCode() != http.StatusAccepted {
		t.Fatalf("forgot: %d", r.StatusCode())
	}
	msg := mp.WaitForMail(u.Email, 1)[0]
	if !strings.Contains(msg.Text, "expires in 1 hour") || !strings.Contains(msg.Text, "/reset-password?token=") {
		t.Errorf("reset mail:\n%s", msg.Text)
	}
	tok := testkit.LinkToken(t, msg.Text)

	weak := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: "Password1"}))(t)
	if weak.StatusCode() != http.StatusUnprocessableEntity {
		t.Errorf("a common new password: %d", weak.StatusCode())
	}
	newPassword := "Brand-New-Pass9"
	reset, err := app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: newPassword})
	if err != nil {
		t.Fatal(err)
	}
	if reset.StatusCode() != http.StatusNoContent {
		t.Fatalf("reset: %d %s (a refused weak password must not use the token up)", reset.StatusCode(), reset.Body)
	}
	for _, p := range []client.TokenPair{pair, other} {
		if meStatus(t, app, p.AccessToken) != http.StatusUnauthorized || refresh(t, app, p.RefreshToken).StatusCode() != http.StatusUnauthorized {
			t.Error("a session survived the reset")
		}
	}
	fresh := app.Login(t, u.Email, newPassword)
	// The reset mail reached the address: it counts as verified now.
	if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(fresh.AccessToken)))(t); me.JSON200 == nil || me.JSON200.EmailVerifiedAt == nil {
		t.Errorf("the address after a reset: %d %s, want verified", me.StatusCode(), me.Body)
	}
	if old := testkit.Must(app.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email)))(t); old.StatusCode() != http.StatusUnauthorized {
		t.Errorf("old password after reset: %d", old.StatusCode())
	}
	if again := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: "Third-Horse-10"}))(t); again.StatusCode() != http.StatusBadRequest {
		t.Errorf("reusing the reset token: %d", again.StatusCode())
	}
}

func TestMail_PasswordChangeKillsOutstandingLinks(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: u.Email}))(t)
	tok := testkit.LinkToken(t, mp.WaitForMail(u.Email, 1)[0].Text)

	np := "Changed-Horse-5"
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &np, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("change: %d", r.StatusCode())
	}
	if r := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: tok, NewPassword: "Brand-New-Pass9"}))(t); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("a reset link from before the password change: %d, want 400", r.StatusCode())
	}
}

func TestMail_EmailChangeIsPendingUntilConfirmed(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	newEmail := testkit.UniqueEmail()

	put, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if put.JSON200 == nil || put.JSON200.Email != u.Email {
		t.Fatalf("PUT: %d %s, want 200 with the old address", put.StatusCode(), put.Body)
	}
	confirm := mp.WaitForMail(newEmail, 1)[0]
	notice := mp.WaitForMail(u.Email, 1)[0]
	if strings.Contains(notice.Text, newEmail) || strings.Contains(notice.Text, "token=") {
		t.Errorf("notice to the old address:\n%s", notice.Text)
	}
	resp, err := app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: testkit.LinkToken(t, confirm.Text)}, testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Email != newEmail || resp.JSON200.EmailVerifiedAt == nil {
		t.Fatalf("confirm: %d %s", resp.StatusCode(), resp.Body)
	}
	app.Login(t, newEmail, testkit.Password)
}

func TestMail_EmailChangeToATakenAddressRevealsNothing(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	taken, _ := app.NewUser(t)
	me, pair := app.NewUser(t)
	free := testkit.UniqueEmail()
	a := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &taken.Email, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)))(t)
	app.Clock.Advance(time.Minute) // past the requester's notice throttle
	b := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &free, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)))(t)
	if a.StatusCode() != http.StatusOK || b.StatusCode() != http.StatusOK {
		t.Fatalf("taken %d, free %d: want 200 for both", a.StatusCode(), b.StatusCode())
	}
	notice := mp.WaitForMail(taken.Email, 1)[0]
	if !strings.Contains(notice.Subject, "move an account to your email") || strings.Contains(notice.Text, "token=") {
		t.Errorf("the owner's notice: %q\n%s", notice.Subject, notice.Text)
	}
	// The requester's own inbox gets the same notice for both requests.
	mine := mp.WaitForMail(me.Email, 2)
	if mine[0].Subject != mine[1].Subject || mine[0].Text != mine[1].Text || mine[0].HTML != mine[1].HTML {
		t.Errorf("notices to the requester differ: %q\n%s\n/ %q\n%s", mine[0].Subject, mine[0].Text, mine[1].Subject, mine[1].Text)
	}
}

func TestMail_ConfirmedEmailChangeKillsLinksMailedBefore(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	forgot(t, app, u.Email)
	reset := testkit.LinkToken(t, mp.WaitForMail(u.Email, 1)[0].Text)

	newEmail := testkit.UniqueEmail()
	testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken)))(t)
	confirm := testkit.LinkToken(t, mp.WaitForMail(newEmail, 1)[0].Text)
	if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: confirm}, testkit.Bearer(pair.AccessToken)))(t); r.JSON200 == nil {
		t.Fatalf("confirm: %d", r.StatusCode())
	}
	if r := testkit.Must(app.Client.ResetPasswordWithResponse(ctx, client.ResetPasswordRequest{Token: reset, NewPassword: "Brand-New-Pass9"}))(t); r.StatusCode() != http.StatusBadRequest {
		t.Errorf("a reset link mailed to the old address after the move: %d, want 400", r.StatusCode())
	}
}

func TestMail_ConcurrentRequestsLeaveOneLiveToken(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t), testkit.NoLimits, withLimits(func(l *server.Limits) {
		l.MailThrottle = ratelimit.Limit{Rate: 1000, Period: time.Minute} // let every request issue a token
	}))
	u, _ := app.NewUser(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			r, err := app.Client.ForgotPasswordWithResponse(context.Background(), client.EmailRequest{Email: u.Email}, testkit.From(fmt.Sprintf("198.51.100.%d", i+1)))
			if err != nil || r.StatusCode() != http.StatusAccepted {
				t.Errorf("forgot: %v", err)
			}
		})
	}
	wg.Wait()
	if n := app.LiveTokens(t, u.Id); n != 1 {
		t.Errorf("%d live tokens of the user after concurrent requests, want 1", n)
	}
}

func TestMail_RegisterThenLoginCannotTellAccountsApart(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	existing := testkit.UniqueEmail()
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: existing, Password: testkit.Password}))(t)
	link := testkit.LinkToken(t, mp.WaitForMail(existing, 1)[0].Text)
	if r := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: testkit.Password}))(t); r.JSON200 == nil {
		t.Fatalf("verify: %d", r.StatusCode())
	}

	// The prober registers with its own password, then logs in with it.
	probe := func(email string) string {
		reg := testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: "Probe-Horse-3"}))(t)
		login := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: email, Password: "Probe-Horse-3"}))(t)
		out := fmt.Sprint(reg.StatusCode(), " ", login.StatusCode())
		if p := login.ApplicationproblemJSON401; p != nil {
			out += " " + p.Type + " " + p.Detail
		}
		return out
	}
	had, fresh := probe(existing), probe(testkit.UniqueEmail())
	if had != fresh || !strings.HasPrefix(had, "202 401") {
		t.Errorf("address with an account: %q; new address: %q", had, fresh)
	}
	app.Login(t, existing, testkit.Password) // the owner is unaffected
}

func TestMail_ALaterRegistrationCannotChooseThePendingPassword(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, requireVerified)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: testkit.Password}))(t)
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: "Attacker-Pass-1"}))(t)
	link := testkit.LinkToken(t, mp.WaitForMail(email, 1)[0].Text)
	if r := testkit.Must(app.Client.VerifyEmailWithResponse(ctx, client.VerifyEmailRequest{Token: link, Password: testkit.Password}))(t); r.JSON200 == nil {
		t.Fatalf("verify: %d", r.StatusCode())
	}
	app.Login(t, email, testkit.Password)
	if r := testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: email, Password: "Attacker-Pass-1"}))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the later registration's password: %d, want 401", r.StatusCode())
	}
}

// TestMail_EmailChangeLinkDoesNotTellWhetherTheNextAddressIsTaken: a
// requester who holds a link to a mailbox of their own, then asks for
// another address, must not learn from whether the first link still works
// that the second address has an account.
func TestMail_EmailChangeLinkDoesNotTellWhetherTheNextAddressIsTaken(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	taken, _ := app.NewUser(t)
	for name, next := range map[string]string{"taken": taken.Email, "free": testkit.UniqueEmail()} {
		_, pair := app.NewUser(t)
		mine := testkit.UniqueEmail()
		for _, addr := range []string{mine, next} {
			r, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &addr, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken))
			if err != nil || r.StatusCode() != http.StatusOK {
				t.Fatalf("%s: change to %s: %v %v", name, addr, r, err)
			}
		}
		link := testkit.LinkToken(t, mp.WaitForMail(mine, 1)[0].Text)
		if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: link}, testkit.Bearer(pair.AccessToken)))(t); r.StatusCode() != http.StatusBadRequest {
			t.Errorf("%s: the link to the requester's own mailbox after asking for a %s address: %d, want 400 (replaced)", name, name, r.StatusCode())
		}
	}
}

// TestMail_EmailChangeLinkConfirmsOnlyForTheAccountThatAsked: the mail to the
// new address does not say which account asked, so a link clicked by the
// address's owner must not hand the address to an attacker's account. Only
// the account that asked, logged in, confirms; another account's try neither
// works nor uses the link up.
func TestMail_EmailChangeLinkConfirmsOnlyForTheAccountThatAsked(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	attacker, aPair := app.NewUser(t)
	_, vPair := app.NewUser(t)
	target := testkit.UniqueEmail()
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &target, CurrentPassword: testkit.Password}, testkit.Bearer(aPair.AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("PUT: %d", r.StatusCode())
	}
	link := testkit.LinkToken(t, mp.WaitForMail(target, 1)[0].Text)

	r, err := app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: link}, testkit.Bearer(vPair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode() != http.StatusBadRequest {
		t.Fatalf("the attacker's link confirmed by the victim's account: %d %s, want 400", r.StatusCode(), r.Body)
	}
	if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(aPair.AccessToken)))(t); me.JSON200 == nil || me.JSON200.Email != attacker.Email {
		t.Fatalf("the attacker's account after the victim's click: %d %s, want the old address", me.StatusCode(), me.Body)
	}
	if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: link}))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("confirm without a bearer token: %d, want 401", r.StatusCode())
	}
	if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: link}, testkit.Bearer(aPair.AccessToken)))(t); r.JSON200 == nil || r.JSON200.Email != target {
		t.Errorf("the asking account with its own link after another account's try: %d %s, want 200 with the new address", r.StatusCode(), r.Body)
	}
}
