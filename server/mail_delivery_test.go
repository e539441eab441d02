package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// outbox returns the mail_outbox readiness detail, e.g. "0 pending, 0 dead",
// from the private listener's detailed readiness.
func outbox(t *testing.T, app *testkit.App) (string, string) {
	t.Helper()
	c := app.DetailedReadiness(t).Checks["mail_outbox"]
	if c.Detail == nil {
		t.Fatalf("no mail_outbox check")
	}
	return string(c.Status), *c.Detail
}

// drained waits until the outbox has nothing pending: every mail sent or dead.
func drained(t *testing.T, app *testkit.App) string {
	t.Helper()
	var detail string
	testkit.WaitUntil(t, 30*time.Second, 50*time.Millisecond, func() bool {
		_, detail = outbox(t, app)
		return strings.HasPrefix(detail, "0 pending")
	}, func() string { return "outbox not drained: " + detail })
	return detail
}

func forgot(t *testing.T, app *testkit.App, email string) {
	t.Helper()
	r, err := app.Client.ForgotPasswordWithResponse(context.Background(), client.EmailRequest{Email: email})
	if err != nil || r.StatusCode() != http.StatusAccepted {
		t.Fatalf("forgot %s: %v %d", email, err, r.StatusCode())
	}
}

func TestDelivery_SMTPDownLosesNothingAndSendsOnce(t *testing.T) {
	t.Parallel()
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	retried := make(chan struct{}, 3)
	app.StartMailWorker(t, mp.SMTPURL(), func(o *mail.WorkerOptions) {
		count := o.OnEvent
		o.OnEvent = func(e string) {
			count(e)
			if e == "retried" {
				select {
				case retried <- struct{}{}:
				default: // three are all the test waits for
				}
			}
		}
	})
	var emails []string
	for range 3 {
		u, _ := app.NewUser(t)
		emails = append(emails, u.Email)
	}
	mp.Stop()
	for _, e := range emails {
		forgot(t, app, e) // the API answers while SMTP is down
	}
	timeout := time.After(20 * time.Second)
	for range 3 { // three failed sends while SMTP is down
		select {
		case <-retried:
		case <-timeout:
			t.Fatal("the worker never tried while SMTP was down")
		}
	}
	mp.Start()
	if detail := drained(t, app); detail != "0 pending, 0 dead" {
		t.Errorf("outbox after recovery: %s", detail)
	}
	for _, e := range emails {
		if got := len(mp.MailTo(e)); got != 1 {
			t.Errorf("%s received %d mails, want exactly 1", e, got)
		}
	}
}

func TestDelivery_TwoWorkersSendEachMailOnce(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t, testkit.NoLimits)
	app.StartMailWorker(t, mp.SMTPURL()) // a second worker on the same outbox
	var emails []string
	for range 20 {
		u, _ := app.NewUser(t)
		emails = append(emails, u.Email)
	}
	for _, e := range emails {
		forgot(t, app, e)
	}
	drained(t, app)
	ids := map[string]bool{}
	for _, e := range emails {
		got := mp.MailTo(e)
		if len(got) != 1 {
			t.Errorf("%s received %d mails, want 1", e, len(got))
			continue
		}
		if ids[got[0].MessageID] {
			t.Errorf("Message-ID %s used twice", got[0].MessageID)
		}
		ids[got[0].MessageID] = true
	}
}

func TestDelivery_MailThatKeepsFailingIsParkedAsDeadAndCanBeRequeued(t *testing.T) {
	t.Parallel()
	mp := testkit.StartMailpit(t)
	mp.Stop() // SMTP down for longer than the attempts last
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	app.StartMailWorker(t, mp.SMTPURL(), func(o *mail.WorkerOptions) { o.MaxAttempts = 2 })
	u, _ := app.NewUser(t)
	forgot(t, app, u.Email)
	if detail := drained(t, app); detail != "0 pending, 1 dead" {
		t.Fatalf("outbox: %s, want the mail dead", detail)
	}
	if status, _ := outbox(t, app); status != "degraded" {
		t.Errorf("mail_outbox check %s with dead mail, want degraded", status)
	}
	if len(app.Logs.Lines("mail dead: giving up", `"attempts":2`)) != 1 {
		t.Errorf("dead mail not logged once:\n%s", app.Logs.String())
	}
	// The log and the row tell the same story: the row's attempts, and the
	// error once.
	var attempts int
	var lastError string
	if err := app.Deps.DB.Pool().QueryRow(context.Background(),
		"SELECT attempts, last_error FROM mail_outbox WHERE recipient = $1 AND status = 'dead'", u.Email).Scan(&attempts, &lastError); err != nil {
		t.Fatal(err)
	}
	if attempts != 2 || strings.Count(lastError, "connection refused") != 1 || strings.Contains(lastError, "\n") {
		t.Errorf("dead row: attempts %d, last_error %q; want 2 and the error once", attempts, lastError)
	}
	if len(app.Logs.Lines("mail dead: giving up", `"max_attempts":2`)) != 1 {
		t.Errorf("the dead-mail line does not say the limit:\n%s", app.Logs.String())
	}

	mp.Start() // the operator fixed SMTP and requeues (authd mail requeue)
	n, err := app.Deps.DB.Queries().RequeueDeadMail(context.Background(), time.Now())
	if err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	msg := mp.WaitForMail(u.Email, 1)[0]
	if !strings.Contains(msg.Text, "reset-password?token=") {
		t.Errorf("requeued mail lost its body:\n%s", msg.Text)
	}
}

func TestDelivery_OneMailOfAKindPerAddressPerMinute(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	u, _ := app.NewUser(t)
	for i := range 3 {
		r := testkit.Must(app.Client.ForgotPasswordWithResponse(context.Background(), client.EmailRequest{Email: u.Email}, testkit.From(fmt.Sprintf("192.0.2.%d", i+1))))(t)
		if r.StatusCode() != http.StatusAccepted {
			t.Fatalf("forgot %d: %d", i, r.StatusCode())
		}
	}
	drained(t, app)
	if got := len(mp.MailTo(u.Email)); got != 1 {
		t.Errorf("3 requests within a minute mailed %d times, want 1", got)
	}
	app.Clock.Advance(20 * time.Minute) // past the throttle, and a refill of the per-address request limit
	forgot(t, app, u.Email)
	mp.WaitForMail(u.Email, 2)
}

func TestDelivery_OutboxHoldsNoTokenInClear(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t)) // no worker: the mail stays queued
	u, _ := app.NewUser(t)
	forgot(t, app, u.Email)
	var text, html string
	err := app.Deps.DB.Pool().QueryRow(context.Background(),
		"SELECT text_body, html_body FROM mail_outbox WHERE recipient = $1 AND status = 'pending'", u.Email).Scan(&text, &html)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text+html, "token=") || !strings.HasPrefix(text, "sealed:v2:") {
		t.Errorf("outbox body in clear: %.80s", text)
	}
}

func TestDelivery_MailNoKeyOpensIsRetriedNotBuried(t *testing.T) {
	t.Parallel()
	mp := testkit.StartMailpit(t)
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	ctx := context.Background()
	u, _ := app.NewUser(t)
	forgot(t, app, u.Email)

	// An instance that does not hold the sealing key (it runs another key
	// file, as one not yet restarted in a rotation does) claims it first.
	otherFile, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	otherKeys, err := token.ParseKeys(otherFile)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := mail.NewSealer(otherKeys.Secrets(mail.SecretLabel))
	if err != nil {
		t.Fatal(err)
	}
	sender, err := mail.NewSMTP(mp.SMTPURL(), "authd <no-reply@authd.example>", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	w := mail.NewWorker(app.Deps.DB.Queries, sender, mail.WorkerOptions{
		Poll: time.Hour, Lease: 20 * time.Second, MaxAttempts: 12, RetryBase: time.Minute, RetryMax: time.Hour,
		Now: app.Clock.Now, Sealer: stranger,
	}, app.Deps.Log)
	if !w.DeliverDue(ctx) {
		t.Fatal("the worker without the key claimed nothing")
	}
	s, err := app.Deps.DB.Queries().MailOutboxStats(ctx, app.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s.Pending != 1 || s.Dead != 0 {
		t.Fatalf("after a worker without the key: %d pending, %d dead; want it pending for a retry", s.Pending, s.Dead)
	}
	retried := app.Logs.Lines("mail not sent; will retry")
	if len(retried) == 0 {
		t.Error("the retry was not logged")
	}
	for _, line := range retried {
		if n := strings.Count(line, "no key opens the body"); n != 1 {
			t.Errorf("the body error is told %d times, want once: %s", n, line)
		}
	}

	app.Clock.Advance(time.Minute) // due again, for an instance that holds the key
	app.StartMailWorker(t, mp.SMTPURL())
	mp.WaitForMail(u.Email, 1)
}
