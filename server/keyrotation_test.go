package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// rotation is the documented procedure, one function per step, each taking
// the key file and returning the next one.
var rotation = struct {
	publish func(t *testing.T, file []byte) (next []byte, newKid string) // step 1: add the new key, verify-only
	promote func(t *testing.T, file []byte, kid string) []byte           // step 2: the new key signs
	retire  func(t *testing.T, file []byte, kid string) []byte           // step 3: the old key stops verifying
	remove  func(t *testing.T, file []byte, kid string) []byte           // step 4: once no mail is sealed with it
}{
	publish: func(t *testing.T, file []byte) ([]byte, string) {
		t.Helper()
		next, kid, err := token.AddKey(file, "ES256")
		if err != nil {
			t.Fatal(err)
		}
		return next, kid
	},
	promote: func(t *testing.T, file []byte, kid string) []byte { return keyStep(t, token.PromoteKey, file, kid) },
	retire:  func(t *testing.T, file []byte, kid string) []byte { return keyStep(t, token.RetireKey, file, kid) },
	remove:  func(t *testing.T, file []byte, kid string) []byte { return keyStep(t, token.RemoveKey, file, kid) },
}

func keyStep(t *testing.T, step func([]byte, string) ([]byte, error), file []byte, kid string) []byte {
	t.Helper()
	next, err := step(file, kid)
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// fleet is two instances of one deployment on one database, each restarted
// on its own with a new key file, as a rolling restart does. Their clocks
// are one clock, so that waiting out a step moves both.
type fleet struct {
	t       *testing.T
	mu      sync.Mutex // guards apps against the background client
	shared  []testkit.Option
	clock   *testkit.Clock
	mp      *testkit.Mailpit
	apps    [2]*testkit.App
	workers [2]*mail.Worker
	tokens  []issued // access tokens a client still holds
	ticks   <-chan struct{}
}

type issued struct {
	token string
	at    time.Time
	by    string
}

func newFleet(t *testing.T, keyFile []byte) *fleet {
	f := &fleet{t: t, clock: &testkit.Clock{}, mp: testkit.StartMailpit(t)}
	clock := func(d *server.Deps) { d.Now = f.clock.Now }
	f.shared = []testkit.Option{testkit.FastHashing, testkit.NoLimits, testkit.IsolatedDatabase(t), clock}
	for i := range f.apps {
		f.restart(i, keyFile)
	}
	return f
}

// restart replaces instance i by a new one that reads keyFile; the old one
// gets no more requests and its mail worker stops with it.
func (f *fleet) restart(i int, keyFile []byte) {
	t := f.t
	t.Helper()
	app := testkit.NewApp(t, append(f.shared, testkit.SharedKeys(keyFile))...)
	sender, err := mail.NewSMTP(f.mp.SMTPURL(), "authd <no-reply@authd.example>", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.apps[i] = app
	f.mu.Unlock()
	f.workers[i] = mail.NewWorker(app.Deps.DB.Queries, sender, mail.WorkerOptions{
		Poll: time.Hour, Lease: 20 * time.Second, MaxAttempts: 12, RetryBase: time.Minute, RetryMax: time.Hour,
		Now: f.clock.Now, Sealer: app.Sealer,
	}, app.Deps.Log)
}

func (f *fleet) current() [2]*testkit.App {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.apps
}

// keepCalling starts a client that, until the returned stop is called,
// refreshes its session on one instance and uses the new access token on
// the other, turn by turn; after each turn it offers a tick to whoever
// waits on ticks.
func (f *fleet) keepCalling() (ticks <-chan struct{}, stop func()) {
	t := f.t
	_, pair := f.apps[0].NewUser(t)
	tick, done, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		ctx, rt := context.Background(), pair.RefreshToken
		for n := 0; ; n++ {
			apps, at := f.current(), f.clock.Now()
			r, err := apps[n%2].Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: rt})
			if err != nil || r.JSON200 == nil {
				t.Errorf("background client: refresh on instance %d: %v %d %s", n%2, err, r.StatusCode(), r.Body)
				return
			}
			rt = r.JSON200.RefreshToken
			me, err := apps[1-n%2].Client.GetMeWithResponse(ctx, testkit.Bearer(r.JSON200.AccessToken))
			// The test's clock may jump past the token's lifetime between the
			// two calls; the client then simply refreshes on its next turn.
			expired := f.clock.Now().Sub(at) >= 15*time.Minute
			if err != nil || (me.StatusCode() != http.StatusOK && !expired) {
				t.Errorf("background client: a token from instance %d on instance %d: %v %d", n%2, 1-n%2, err, me.StatusCode())
			}
			select {
			case <-done:
				return
			case tick <- struct{}{}:
			default:
			}
		}
	}()
	return tick, func() { close(done); <-finished }
}

// rollOut restarts both instances with keyFile, one after the other, and
// checks the deployment after each restart: between the two, one instance
// runs the new file and one the old.
func (f *fleet) rollOut(step string, keyFile []byte) {
	f.t.Helper()
	for i := range f.apps {
		f.restart(i, keyFile)
		f.check(fmt.Sprintf("%s, instance %d restarted", step, i))
	}
}

// check is a client at work: every instance gets a fresh session (so each
// signs with what it signs now), every token the client still holds is used
// on every instance, and a mail queued on each instance is delivered by the
// other one's worker. Nothing may answer 401 and no mail may die.
func (f *fleet) check(when string) {
	t := f.t
	t.Helper()
	ctx := context.Background()
	if f.ticks != nil { // two whole turns of the background client on this pair of instances
		<-f.ticks
		<-f.ticks
	}
	for i, app := range f.apps {
		_, pair := app.NewUser(t)
		f.tokens = append(f.tokens, issued{token: pair.AccessToken, at: f.clock.Now(), by: fmt.Sprintf("%s: instance %d", when, i)})
	}
	live := f.tokens[:0]
	for _, tok := range f.tokens {
		if f.clock.Now().Sub(tok.at) >= 15*time.Minute {
			continue // expired: the client has refreshed since
		}
		live = append(live, tok)
		for j, app := range f.apps {
			if got := getMe(t, app, tok.token).StatusCode(); got != http.StatusOK {
				t.Errorf("%s: a token issued %s got %d from instance %d, want 200", when, tok.by, got, j)
			}
		}
	}
	f.tokens = live
	for i, app := range f.apps {
		other := 1 - i
		u, _ := app.NewUser(t)
		if r, err := app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: u.Email}); err != nil || r.StatusCode() != http.StatusAccepted {
			t.Fatalf("%s: forgot on instance %d: %v", when, i, err)
		}
		for f.workers[other].DeliverDue(ctx) {
		}
		if got := len(f.mp.MailTo(u.Email)); got != 1 {
			t.Errorf("%s: mail queued on instance %d and delivered by instance %d: %d received, want 1", when, i, other, got)
		}
	}
	if pending, dead := f.outbox(); pending != 0 || dead != 0 {
		t.Errorf("%s: outbox holds %d pending and %d dead mails, want none", when, pending, dead)
	}
}

func (f *fleet) outbox() (pending, dead int64) {
	f.t.Helper()
	s, err := f.apps[0].Deps.DB.Queries().MailOutboxStats(context.Background(), f.clock.Now())
	if err != nil {
		f.t.Fatal(err)
	}
	return s.Pending, s.Dead
}

// deliverAll runs both workers until neither finds due mail.
func (f *fleet) deliverAll() {
	for f.workers[0].DeliverDue(context.Background()) || f.workers[1].DeliverDue(context.Background()) {
	}
}

func kidsOf(t *testing.T, keyFile []byte) []string {
	t.Helper()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(keyFile, &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.Kid)
	}
	return kids
}

func TestKeyRotation_RollingThroughEveryStepLosesNoSessionAndNoMail(t *testing.T) {
	t.Parallel()
	file, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidsOf(t, file)[0]
	f := newFleet(t, file)
	ticks, stop := f.keepCalling()
	defer stop()
	f.ticks = ticks
	f.check("before the rotation")

	file, newKid := rotation.publish(t, file)
	f.rollOut("step 1 (publish)", file)
	f.clock.Advance(server.JWKSMaxAge) // relying parties' JWKS caches now hold the new key

	file = rotation.promote(t, file, newKid)
	f.rollOut("step 2 (promote)", file)
	f.clock.Advance(15*time.Minute + 30*time.Second) // every token of the old key has expired

	file = rotation.retire(t, file, oldKid)
	f.rollOut("step 3 (retire)", file)

	q, sealer := f.apps[0].Deps.DB.Queries(), f.apps[0].Sealer
	if n, err := mail.CountSealedWith(context.Background(), q, sealer, oldKid); err != nil || n != 0 {
		t.Fatalf("mail sealed with the retired key: %d, %v; want none before removing it", n, err)
	}
	file = rotation.remove(t, file, oldKid)
	f.rollOut("step 4 (remove)", file)
	if kids := kidsOf(t, file); len(kids) != 1 || kids[0] != newKid {
		t.Errorf("key file after the rotation holds %v, want only %s", kids, newKid)
	}
}

func TestKeyRotation_MailQueuedBeforeTheRotationIsSentAfterTheOldKeyRetires(t *testing.T) {
	t.Parallel()
	file, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	oldKid := kidsOf(t, file)[0]
	f := newFleet(t, file)
	u, _ := f.apps[0].NewUser(t)
	forgot(t, f.apps[0], u.Email) // sealed with the old key; no worker runs until step 3 is done

	file, newKid := rotation.publish(t, file)
	for i := range f.apps {
		f.restart(i, file)
	}
	file = rotation.promote(t, file, newKid)
	for i := range f.apps {
		f.restart(i, file)
	}
	file = rotation.retire(t, file, oldKid)
	for i := range f.apps {
		f.restart(i, file)
	}
	if n, err := mail.CountSealedWith(context.Background(), f.apps[0].Deps.DB.Queries(), f.apps[0].Sealer, oldKid); err != nil || n != 1 {
		t.Errorf("mail sealed with the retired key: %d, %v; want 1", n, err)
	}

	f.deliverAll()
	if got := len(f.mp.MailTo(u.Email)); got != 1 {
		t.Errorf("the mail queued before the rotation: %d received, want 1", got)
	}
	if pending, dead := f.outbox(); pending != 0 || dead != 0 {
		t.Errorf("outbox holds %d pending and %d dead mails, want none", pending, dead)
	}
	if n, err := mail.CountSealedWith(context.Background(), f.apps[0].Deps.DB.Queries(), f.apps[0].Sealer, oldKid); err != nil || n != 0 {
		t.Errorf("mail sealed with the retired key after delivery: %d, %v; want 0", n, err)
	}
}
