package server_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/datakeys"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/token"
)

// instances starts three apps that share what a deployment shares: the
// database, the signing keys, the data keys and a Redis for rate limits.
// Nothing else.
func instances(t *testing.T, opts ...testkit.Option) []*testkit.App {
	t.Helper()
	keys, err := token.GenerateSet("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	dataKeys, err := datakeys.Generate()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "authd-test:" + rand.Text() + ":"
	shared := func(d *server.Deps) {
		d.Limits.Store = redisStore(t, prefix)
		d.Limits.BackoffStore = redisBackoff(t, prefix)
	}
	opts = append([]testkit.Option{testkit.FastHashing, testkit.SharedKeys(keys), testkit.SharedDataKeys(dataKeys), shared}, opts...)
	return []*testkit.App{testkit.NewApp(t, opts...), testkit.NewApp(t, opts...), testkit.NewApp(t, opts...)}
}

func TestInstances_SessionEndedOnOneIsRefusedByTheOthers(t *testing.T) {
	t.Parallel()
	apps := instances(t)
	a, b, c := apps[0], apps[1], apps[2]
	ctx := context.Background()
	_, pair := a.NewUser(t)
	if me := testkit.Must(c.Client.GetMeWithResponse(ctx, testkit.Bearer(pair.AccessToken)))(t); me.StatusCode() != http.StatusOK {
		t.Fatalf("a token issued by one instance before logout: %d on another, want 200", me.StatusCode())
	}

	if out := testkit.Must(b.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(pair.AccessToken)))(t); out.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout on the second instance: %d", out.StatusCode())
	}
	for _, app := range apps {
		if me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(pair.AccessToken)))(t); me.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: access token after logout elsewhere: %d, want 401", app.URL, me.StatusCode())
		}
		if r := refresh(t, app, pair.RefreshToken); r.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: refresh token after logout elsewhere: %d, want 401", app.URL, r.StatusCode())
		}
	}
}

func TestInstances_ConcurrentRefreshesKeepOneChain(t *testing.T) {
	t.Parallel()
	raceRefreshes(t, instances(t)...)
}

func TestInstances_ConcurrentRegistrationsOfOneEmailCreateOneUser(t *testing.T) {
	t.Parallel()
	raceRegistrations(t, instances(t, testkit.NoLimits)...) // the per-address limit would refuse most
}

func TestInstances_ShareOneRateLimitBudget(t *testing.T) {
	t.Parallel()
	apps := instances(t, withLimits(func(l *server.Limits) { l.Register = ratelimit.Limit{Rate: 6, Period: time.Hour} })) // a burst of 3
	from := testkit.From("192.0.2.45")
	got := make([]int, 4)
	for i := range got {
		got[i] = register(t, apps[i%len(apps)], from).StatusCode()
	}
	if got[0] != 201 || got[1] != 201 || got[2] != 201 || got[3] != http.StatusTooManyRequests {
		t.Errorf("statuses across three instances %v, want 201 201 201 429", got)
	}
}

// TestInstances_ShareOneLoginBackoff: failures spread over three instances
// count towards one backoff, whichever instance answers.
func TestInstances_ShareOneLoginBackoff(t *testing.T) {
	t.Parallel()
	apps := instances(t, withLimits(func(l *server.Limits) {
		l.BackoffAfter, l.BackoffBase, l.BackoffMax = 3, time.Minute, time.Hour
		l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} // out of the way
	}))
	u, _ := apps[0].NewUser(t)
	const ip = "198.51.100.61"
	for i := range 3 {
		if status, _ := attempt(t, apps[i], u.Email, "Wrong-Horse-8", ip); status != http.StatusUnauthorized {
			t.Fatalf("free failure %d on instance %d: %d", i+1, i, status)
		}
	}
	for i, app := range apps {
		if status, _ := attempt(t, app, u.Email, testkit.Password, ip); status != http.StatusTooManyRequests {
			t.Errorf("instance %d after three failures elsewhere: %d, want 429", i, status)
		}
	}
}

// A factor enrolled on one instance works on the others: its secret opens
// with the shared data keys, the login's challenge lives in the database,
// and a code spent on one instance is spent for all.
func TestInstances_SecondFactorAcrossInstances(t *testing.T) {
	t.Parallel()
	apps := instances(t)
	a, b, c := apps[0], apps[1], apps[2]
	ctx := context.Background()
	u, pair := a.NewUser(t)
	_, secret, _ := a.EnrolTOTP(t, pair.AccessToken)
	login := testkit.Must(b.Client.LoginWithResponse(ctx, testkit.LoginBody(u.Email)))(t)
	if login.JSON202 == nil {
		t.Fatalf("login on another instance: %d %s", login.StatusCode(), login.Body)
	}
	code := c.TOTP(t, secret, 0)
	done := testkit.Must(c.Client.VerifyMfaWithResponse(ctx, client.MfaVerifyRequest{MfaToken: login.JSON202.MfaToken, Code: &code}))(t)
	if done.JSON200 == nil {
		t.Fatalf("second step on a third instance: %d %s", done.StatusCode(), done.Body)
	}
	again := testkit.Must(a.Client.StepUpWithResponse(ctx, client.StepUpRequest{Code: &code}, testkit.Bearer(done.JSON200.AccessToken)))(t)
	if again.StatusCode() != http.StatusForbidden {
		t.Errorf("the code spent on one instance, again on another: %d %s, want 403", again.StatusCode(), again.Body)
	}
}
