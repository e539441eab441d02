package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/testkit"
)

func withHasher(t *testing.T, p password.Params) testkit.Option {
	h, err := password.NewHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	return func(d *server.Deps) { d.Hasher = h }
}

func TestHashing_FullBulkheadAnswers503(t *testing.T) {
	t.Parallel()
	// One slot, no queueing, and a hash of about a second: of two logins sent
	// together, one hashes and the other is shed.
	slow := password.Params{Algorithm: "argon2id", MemoryKiB: 65536, Time: 32, Threads: 1, Concurrency: 1}
	app := testkit.NewApp(t, withHasher(t, slow))

	var wg sync.WaitGroup
	start := make(chan struct{})
	responses := make([]*client.LoginResponse, 2)
	for i := range responses {
		wg.Go(func() {
			<-start
			resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(testkit.UniqueEmail()))
			if err != nil {
				t.Error(err)
				return
			}
			responses[i] = resp
		})
	}
	close(start)
	wg.Wait()
	got := map[int]*client.LoginResponse{}
	for _, r := range responses {
		if r == nil {
			t.FailNow()
		}
		got[r.StatusCode()] = r
	}
	shed, hashed := got[http.StatusServiceUnavailable], got[http.StatusUnauthorized]
	if shed == nil || hashed == nil {
		t.Fatalf("statuses %d and %d, want one 401 and one 503", responses[0].StatusCode(), responses[1].StatusCode())
	}
	if shed.HTTPResponse.Header.Get("Retry-After") != "1" || shed.ApplicationproblemJSON503 == nil {
		t.Errorf("503 without Retry-After or problem: %s", shed.Body)
	}
	if open, _ := app.Deps.DB.BreakerOpen(); open {
		t.Error("shedding load opened the database breaker")
	}
}

func TestCancelledRequest_Is499AndLeavesBreakerClosed(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	for range 10 { // twice the breaker's failure threshold
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/auth/register",
			strings.NewReader(`{"email":"`+testkit.UniqueEmail()+`","password":"Correct-Horse-7"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		app.Handler.ServeHTTP(rec, req)
		if rec.Code != 499 {
			t.Fatalf("status %d, want 499: %s", rec.Code, rec.Body)
		}
	}
	if open, _ := app.Deps.DB.BreakerOpen(); open {
		t.Error("client cancellations opened the breaker")
	}
	if lines := app.Logs.Lines(`"level":"ERROR"`); len(lines) > 0 {
		t.Errorf("cancellations logged as errors: %v", lines)
	}
	app.Register(t, testkit.UniqueEmail(), testkit.Password)
}

func TestLogin_InvalidUserAgentIsCleanedNot500(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, _ := app.NewUser(t)
	resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(u.Email), testkit.Header("User-Agent", "bad\xff\xfeagent "+strings.Repeat("é", 400)))
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	var ua string
	if err := testkit.Pool(t).QueryRow(context.Background(),
		"SELECT user_agent FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1", u.Id).Scan(&ua); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "badagent é") || len(ua) > 512 {
		t.Errorf("stored user agent %q (%d bytes)", ua[:min(len(ua), 20)], len(ua))
	}
}

func TestLogin_LongPasswordsAreNeverTruncated(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"bcrypt", "argon2id"} { // bcrypt alone reads only 72 bytes
		app := testkit.NewApp(t, withHasher(t, password.Params{Algorithm: alg, BcryptCost: 10, MemoryKiB: 1024, Time: 1, Threads: 1, Concurrency: 2, MaxWait: 10 * time.Second}))
		email := testkit.UniqueEmail()
		long := "Aa1" + strings.Repeat("z", 100)
		app.Register(t, email, long+"X")
		resp, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: email, Password: long + "Y"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: a password differing after byte 100 logged in (%d)", alg, resp.StatusCode())
		}
		app.Login(t, email, long+"X")
	}
}

// changePasswordDuring runs request while the test holds the user's row,
// waits until the request blocks on that row (its password check is done),
// then changes the stored hash as a concurrent password change would, and
// returns the request's status.
func changePasswordDuring(t *testing.T, userID uuid.UUID, request func() int) int {
	t.Helper()
	ctx := context.Background()
	tx, err := testkit.Pool(t).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", userID); err != nil {
		t.Fatal(err)
	}
	status := make(chan int, 1)
	go func() { status <- request() }()

	testkit.WaitUntil(t, 20*time.Second, 10*time.Millisecond, func() bool {
		var waiting int
		err := testkit.Pool(t).QueryRow(ctx,
			`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		return waiting > 0
	}, func() string { return "the request never blocked on the held row" })
	if _, err := tx.Exec(ctx, "UPDATE users SET password_hash = 'changed-elsewhere' WHERE id = $1", userID); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return <-status
}

// The two race tests are not parallel: they read pg_stat_activity for the
// whole database, which parallel tests would also show.

func TestLogin_RacingAPasswordChangeIsRefused(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	u, _ := app.NewUser(t)
	status := changePasswordDuring(t, u.Id, func() int {
		resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(u.Email))
		if err != nil {
			t.Error(err)
			return 0
		}
		return resp.StatusCode()
	})
	if status != http.StatusUnauthorized {
		t.Errorf("login checked against the old hash: %d, want 401", status)
	}
	var sessions int
	_ = testkit.Pool(t).QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", u.Id).Scan(&sessions)
	if sessions != 1 { // only NewUser's own login
		t.Errorf("%d live sessions, want 1", sessions)
	}
}

func TestUpdateMe_RacingAPasswordChangeIsRefused(t *testing.T) {
	app := testkit.NewApp(t, testkit.FastHashing)
	u, pair := app.NewUser(t)
	newEmail := testkit.UniqueEmail()
	status := changePasswordDuring(t, u.Id, func() int {
		resp, err := app.Client.UpdateMeWithResponse(context.Background(),
			client.UpdateUserRequest{Email: &newEmail, CurrentPassword: testkit.Password}, testkit.Bearer(pair.AccessToken))
		if err != nil {
			t.Error(err)
			return 0
		}
		return resp.StatusCode()
	})
	if status != http.StatusForbidden {
		t.Errorf("change checked against the old hash: %d, want 403", status)
	}
}

func TestBearerRoutes_RefuseWithoutToken(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	ctx := context.Background()
	email := "x@example.com"
	put, err := app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Email: &email, CurrentPassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	del, err := app.Client.DeleteMeWithResponse(ctx, client.DeleteUserRequest{CurrentPassword: "x"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := app.Client.LogoutWithResponse(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, status := range map[string]int{"PUT /users/me": put.StatusCode(), "DELETE /users/me": del.StatusCode(), "POST /auth/logout": out.StatusCode()} {
		if status != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", name, status)
		}
	}
}

func TestUpdateMe_MalformedAndOversizedBodies(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	for body, want := range map[string]int{
		`{"email":`: http.StatusBadRequest,
		`{"current_password":"` + testkit.Password + `","email":"a@b.co","email":"c@d.co"}`: http.StatusBadRequest,
		`{"current_password":"` + strings.Repeat("x", 70_000) + `"}`:                        http.StatusRequestEntityTooLarge,
		strings.Repeat("[", 1000): http.StatusBadRequest,
	} {
		resp, err := app.Client.UpdateMeWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(body), testkit.Bearer(pair.AccessToken))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode() != want {
			t.Errorf("%.40s: %d, want %d", body, resp.StatusCode(), want)
		}
	}
}

func TestProblemsAndLogsNameInstanceAndUser(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, _ := app.NewUser(t)
	resp, err := app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: u.Email, Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.ApplicationproblemJSON409; p == nil || p.Instance == nil || *p.Instance != "/auth/register" {
		t.Errorf("409 problem lacks instance: %s", resp.Body)
	}
	for _, route := range []string{"/auth/register", "/auth/login"} {
		if len(app.Logs.Lines(`"route":"`+route+`"`, `"status":20`, `"user_id":"`+u.Id.String()+`"`)) == 0 {
			t.Errorf("no access log line for %s with the user id", route)
		}
	}
}
