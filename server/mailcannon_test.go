package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// pendingMail counts the app's outbox rows not yet sent or buried.
func pendingMail(t *testing.T, app *testkit.App) int {
	t.Helper()
	var n int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), "SELECT count(*) FROM mail_outbox WHERE status = 'pending'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// delivered lists the mails Mailpit holds for exactly these addresses.
func delivered(mp *testkit.Mailpit, addrs ...string) []testkit.Message {
	var out []testkit.Message
	for _, a := range addrs {
		for _, m := range mp.MailTo(a) {
			for _, to := range m.To {
				if strings.EqualFold(to.Address, a) {
					out = append(out, m)
				}
			}
		}
	}
	return out
}

func TestMail_EmailChangeNoticeIsThrottledPerMailbox(t *testing.T) {
	t.Parallel()
	// Limits off, as the README promises the throttle holds even then.
	app, mp := mailApp(t, testkit.NoLimits)
	ctx := context.Background()
	// One victim mailbox, registered three times through +tag and case
	// variants (verification is off, so anyone can).
	local, domain := "v-"+strings.ToLower(rand.Text()[:10]), "example.com"
	variants := []string{local + "@" + domain, local + "+a@" + domain, strings.ToUpper(local) + "+b@" + domain}
	pairs := make([]client.TokenPair, len(variants))
	for i, v := range variants {
		app.Register(t, v, testkit.Password)
		pairs[i] = app.Login(t, v, testkit.Password)
	}
	var newAddrs []string
	for i := range 30 {
		newEmail := testkit.UniqueEmail()
		newAddrs = append(newAddrs, newEmail)
		r, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pairs[i%len(pairs)].AccessToken))
		if err != nil || r.StatusCode() != http.StatusOK {
			t.Fatalf("PUT %d: %v %d %s", i, err, r.StatusCode(), r.Body)
		}
	}
	// Once the outbox is empty and every new address has its confirmation,
	// every notice queued has been delivered too.
	confirmed := 0
	testkit.WaitUntil(t, 60*time.Second, 100*time.Millisecond, func() bool {
		if pendingMail(t, app) > 0 {
			return false
		}
		confirmed = len(delivered(mp, newAddrs...))
		return confirmed == len(newAddrs)
	}, func() string {
		return fmt.Sprintf("%d mails pending, %d of %d confirmations delivered", pendingMail(t, app), confirmed, len(newAddrs))
	})
	if got := delivered(mp, variants...); len(got) != 1 {
		t.Fatalf("%d notices reached the victim's mailbox within a minute, want 1", len(got))
	}

	// A minute later the next request is noticed again.
	app.Clock.Advance(time.Minute)
	newEmail := testkit.UniqueEmail()
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pairs[1].AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("PUT after a minute: %d", r.StatusCode())
	}
	mp.WaitForMail(newEmail, 1)
	testkit.WaitUntil(t, 30*time.Second, 50*time.Millisecond, func() bool { return len(delivered(mp, variants...)) == 2 },
		func() string { return "no second notice a minute later" })
}

func TestMail_ConfirmedEmailChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	u, asker := app.NewUser(t)
	other := app.Login(t, u.Email, testkit.Password)

	newEmail := testkit.UniqueEmail()
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(asker.AccessToken)))(t); r.StatusCode() != http.StatusOK {
		t.Fatalf("PUT: %d", r.StatusCode())
	}
	confirm := testkit.LinkToken(t, mp.WaitForMail(newEmail, 1)[0].Text)
	if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: confirm}, testkit.Bearer(asker.AccessToken)))(t); r.JSON200 == nil {
		t.Fatalf("confirm: %d", r.StatusCode())
	}
	if meStatus(t, app, other.AccessToken) != http.StatusUnauthorized || refresh(t, app, other.RefreshToken).StatusCode() != http.StatusUnauthorized {
		t.Error("another session survived the confirmed email change")
	}
	if got := meStatus(t, app, asker.AccessToken); got != http.StatusOK {
		t.Errorf("the session that asked for the change: %d, want 200", got)
	}
}

// TestMail_EmailChangeNoticesToOneAddressHaveAnHourlyBudget: a minute apart
// and from many clients, requests to move an account still notify its
// current address no more often than any other mail to one address.
func TestMail_EmailChangeNoticesToOneAddressHaveAnHourlyBudget(t *testing.T) {
	t.Parallel()
	// One session asks twelve minutes long: this is about the mail budget,
	// not about how recent its login must be (see stepup_test.go).
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t), testkit.StepUpMaxAge(time.Hour))
	ctx := context.Background()
	me, pair := app.NewUser(t)
	for i := range 12 {
		app.Clock.Advance(time.Minute) // past the per-minute throttle
		newEmail := testkit.UniqueEmail()
		r, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password},
			testkit.Bearer(pair.AccessToken), testkit.From(fmt.Sprintf("198.51.100.%d", i+1)))
		if err != nil || (r.StatusCode() != http.StatusOK && r.StatusCode() != http.StatusTooManyRequests) {
			t.Fatalf("PUT %d: %v %v", i, r, err)
		}
	}
	var notices int
	if err := app.Deps.DB.Pool().QueryRow(ctx, "SELECT count(*) FROM mail_outbox WHERE kind = 'email_change_notice' AND recipient = $1", me.Email).Scan(&notices); err != nil {
		t.Fatal(err)
	}
	if limit := app.Deps.Limits.MailAddress.Rate; notices > limit {
		t.Errorf("%d notices to one address within 12 minutes, want at most %d (its hourly budget)", notices, limit)
	}
}

// TestMail_RequestsThatMailNothingDoNotSpendTheMailboxBudget: asking for a
// reset or a new link for +tag variants of someone's address, which have no
// account, mails nothing and must not use up the budget of the mailbox, or
// the owner's own request would then mail nothing either.
func TestMail_RequestsThatMailNothingDoNotSpendTheMailboxBudget(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	ctx := context.Background()
	owner, _ := app.NewUser(t)
	local, domain, _ := strings.Cut(owner.Email, "@")
	for i := range 6 {
		variant := fmt.Sprintf("%s+%d@%s", local, i, domain)
		from := testkit.From(fmt.Sprintf("203.0.113.%d", i+1))
		testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: variant}, from))(t)
		testkit.Must(app.Client.ResendVerificationWithResponse(ctx, client.EmailRequest{Email: variant}, from))(t)
		app.Clock.Advance(time.Minute) // past the per-minute throttle
	}
	forgot(t, app, owner.Email)
	if got := len(mp.WaitForMail(owner.Email, 1)); got != 1 {
		t.Errorf("the owner's own reset after strangers asked for +tag variants: %d mails, want 1", got)
	}
}
