package server_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// attempt logs in from ip and returns the status and Retry-After seconds.
func attempt(t *testing.T, app *testkit.App, email, password, ip string) (int, int) {
	t.Helper()
	resp, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: password}, testkit.From(ip))
	if err != nil {
		t.Fatal(err)
	}
	wait, _ := strconv.Atoi(resp.HTTPResponse.Header.Get("Retry-After"))
	if resp.StatusCode() == http.StatusTooManyRequests && !strings.HasSuffix(resp.ApplicationproblemJSON429.Type, "/login-backoff") {
		t.Errorf("429 of type %s", resp.ApplicationproblemJSON429.Type)
	}
	return resp.StatusCode(), wait
}

func backoffApp(t *testing.T) *testkit.App {
	return testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.BackoffAfter, l.BackoffBase, l.BackoffMax = 3, time.Second, 8*time.Second
		l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} // out of the way
	}))
}

func TestBackoff_GrowsIsCappedAndResetsOnSuccess(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	const ip = "198.51.100.20"
	for i := range 3 { // the free failures
		if got, _ := attempt(t, app, u.Email, "Wrong-Horse-8", ip); got != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, got)
		}
	}
	var waits []int
	for range 6 {
		status, wait := attempt(t, app, u.Email, testkit.Password, ip) // even the right password waits
		if status != http.StatusTooManyRequests {
			t.Fatalf("during backoff: %d, want 429", status)
		}
		waits = append(waits, wait)
		app.Clock.Advance(time.Duration(wait) * time.Second)
		if got, _ := attempt(t, app, u.Email, "Wrong-Horse-8", ip); got != http.StatusUnauthorized {
			t.Fatalf("after waiting: %d, want the attempt to run (401)", got)
		}
	}
	want := []int{1, 2, 4, 8, 8, 8}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v (doubling, capped at 8 s)", waits, want)
		}
	}
	app.Clock.Advance(8 * time.Second)
	if got, _ := attempt(t, app, u.Email, testkit.Password, ip); got != http.StatusOK {
		t.Fatalf("right password after the wait: %d, want 200", got)
	}
	for i := range 3 { // a success forgives: the free failures are back
		if got, _ := attempt(t, app, u.Email, "Wrong-Horse-8", ip); got != http.StatusUnauthorized {
			t.Fatalf("failure %d after a success: %d, want 401", i+1, got)
		}
	}
}

func TestBackoff_OtherClientsAreUnaffected(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	for range 5 {
		attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113.66") // the attacker
	}
	if got, _ := attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113.66"); got != http.StatusTooManyRequests {
		t.Fatalf("attacker not slowed: %d", got)
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, "192.0.2.10"); got != http.StatusOK {
		t.Errorf("the owner from another client: %d, want 200", got)
	}
}

func TestBackoff_UnknownEmailsLookTheSame(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	sequence := func(email string) []int {
		var out []int
		for range 5 {
			status, wait := attempt(t, app, email, "Wrong-Horse-8", "198.51.100.77")
			out = append(out, status, wait)
		}
		return out
	}
	known, unknown := sequence(u.Email), sequence(testkit.UniqueEmail())
	for i := range known {
		if known[i] != unknown[i] {
			t.Fatalf("known account %v, unknown %v: the backoff reveals which exists", known, unknown)
		}
	}
}

func TestBackoff_AccountWideBudgetSparesKnownClients(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.FailedLogins = ratelimit.Limit{Rate: 3, Period: time.Hour}
	}))
	u, _ := app.NewUser(t)
	app.Login(t, u.Email, testkit.Password) // from 127.0.0.1: a known client
	for i := range 3 {                      // a distributed attacker, one failure per address
		attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113."+strconv.Itoa(i+1))
	}
	if got, wait := attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113.99"); got != http.StatusTooManyRequests || wait < 1 {
		t.Errorf("a stranger once the budget is spent: %d (Retry-After %d), want 429", got, wait)
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, "203.0.113.100"); got != http.StatusTooManyRequests {
		t.Errorf("a stranger with the right password: %d, want 429 too", got)
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, "127.0.0.1"); got != http.StatusOK {
		t.Errorf("the owner's known client: %d, want 200", got)
	}
}

// TestBackoff_ConcurrentGuessesCannotSlipPast: every attempt is counted
// before its password is checked, so a burst of parallel guesses after the
// free failures gets exactly one through.
func TestBackoff_ConcurrentGuessesCannotSlipPast(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	const ip = "198.51.100.90"
	for range 2 { // one free failure left
		attempt(t, app, u.Email, "Wrong-Horse-8", ip)
	}
	statuses := make(chan int, 10)
	start := make(chan struct{})
	for range 10 {
		go func() {
			<-start
			s, _ := attempt(t, app, u.Email, "Wrong-Horse-8", ip)
			statuses <- s
		}()
	}
	close(start)
	got := map[int]int{}
	for range 10 {
		got[<-statuses]++
	}
	if got[http.StatusUnauthorized] != 1 || got[http.StatusTooManyRequests] != 9 {
		t.Errorf("statuses %v, want one 401 and nine 429", got)
	}
}

func TestBackoff_OwnersSuccessDoesNotForgiveTheAttacker(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	for range 3 {
		attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113.13")
	}
	if got, _ := attempt(t, app, u.Email, testkit.Password, "192.0.2.77"); got != http.StatusOK {
		t.Fatalf("owner: %d", got)
	}
	status, _ := attempt(t, app, u.Email, "Wrong-Horse-8", "203.0.113.13")
	if status != http.StatusTooManyRequests {
		t.Errorf("attacker after the owner's login: %d, want 429 (still backed off)", status)
	}
}

func TestBackoff_IPv6CountsPerSlash64(t *testing.T) {
	t.Parallel()
	app := backoffApp(t)
	u, _ := app.NewUser(t)
	for i := range 3 { // a host rotating through its /64
		attempt(t, app, u.Email, "Wrong-Horse-8", "2001:db8:7:7::"+strconv.Itoa(i+1))
	}
	resp, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: u.Email, Password: "Wrong-Horse-8"}, testkit.From("2001:db8:7:7::99"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusTooManyRequests {
		t.Fatalf("a fresh address in the same /64: %d, want 429", resp.StatusCode())
	}
	if got := resp.HTTPResponse.Header.Get("RateLimit"); !strings.HasPrefix(got, `"login-backoff";r=0;t=`) {
		t.Errorf("RateLimit on a backoff 429: %q", got)
	}
}
