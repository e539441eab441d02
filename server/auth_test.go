package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/testkit"
)

func TestRegister_CreatesActiveUser(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()

	resp, err := app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: "  " + email + " ", Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	u := resp.JSON201
	if u.Email != email || !u.IsActive || u.CreatedAt.IsZero() || u.UpdatedAt.IsZero() {
		t.Errorf("user = %+v, want trimmed email %q, active, timestamps set", u, email)
	}
	if strings.Contains(string(resp.Body), "password") {
		t.Errorf("response mentions the password: %s", resp.Body)
	}
}

func TestRegister_EmailTakenIgnoringCase(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()
	app.Register(t, email, testkit.Password)

	resp, err := app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: strings.ToUpper(email), Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	if resp.ApplicationproblemJSON409 == nil {
		t.Fatalf("status %d, want 409: %s", resp.StatusCode(), resp.Body)
	}
	if got := resp.ApplicationproblemJSON409.Type; !strings.HasSuffix(got, "/email-taken") {
		t.Errorf("type = %q", got)
	}
}

func TestRegister_RuleViolationsListEveryField(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	cases := []struct {
		name, email, password string
		want                  map[string]string // field -> part of its message
	}{
		{"bad email and short password", "not-an-email", "Ab1", map[string]string{"email": "valid email", "password": "must be at least 8 characters"}},
		{"no digit", testkit.UniqueEmail(), "Abcdefghij", map[string]string{"password": "digit"}},
		{"no upper", testkit.UniqueEmail(), "abcdefgh1", map[string]string{"password": "upper-case"}},
		{"no lower", testkit.UniqueEmail(), "ABCDEFGH1", map[string]string{"password": "lower-case"}},
		{"too long password", testkit.UniqueEmail(), "Aa1" + strings.Repeat("x", 126), map[string]string{"password": "must be at most 128 characters"}},
		{"email too long", strings.Repeat("a", 250) + "@example.com", testkit.Password, map[string]string{"email": "must be at most 254 characters"}},
		{"display name is not an address", "Ada <ada@example.com>", testkit.Password, map[string]string{"email": "valid email"}},
		{"every password rule at once", testkit.UniqueEmail(), "abc", map[string]string{"password": "must contain an upper-case letter; must contain a digit"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: tc.email, Password: tc.password})
			if err != nil {
				t.Fatal(err)
			}
			p := resp.ApplicationproblemJSON422
			if p == nil {
				t.Fatalf("status %d, want 422: %s", resp.StatusCode(), resp.Body)
			}
			if p.Errors == nil {
				t.Fatalf("no errors[]: %s", resp.Body)
			}
			for _, fe := range *p.Errors {
				if strings.Contains(fe.Message, "doesn't match") || strings.Contains(fe.Message, "(") {
					t.Errorf("message not reworded: %q", fe.Message)
				}
			}
			for field, msg := range tc.want {
				found := false
				for _, fe := range *p.Errors {
					found = found || (fe.Field == field && strings.Contains(fe.Message, msg))
				}
				if !found {
					t.Errorf("errors %+v lack %s: %q", *p.Errors, field, msg)
				}
			}
		})
	}
}

func TestLogin_ReturnsUsableTokenPair(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()
	u := app.Register(t, email, testkit.Password)

	resp, err := app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: strings.ToUpper(email), Password: testkit.Password})
	if err != nil {
		t.Fatal(err)
	}
	pair := resp.JSON200
	if pair == nil {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	if got := resp.HTTPResponse.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if pair.TokenType != client.Bearer || pair.ExpiresIn != 900 || pair.RefreshExpiresIn < 30*24*3600-5 || len(pair.RefreshToken) != 43 {
		t.Errorf("pair = %+v", pair)
	}
	me, err := app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if me.JSON200 == nil || me.JSON200.Id != u.Id {
		t.Fatalf("me: status %d: %s", me.StatusCode(), me.Body)
	}
}

func TestLogin_RefusalsAreIndistinguishable(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()
	app.Register(t, email, testkit.Password)
	inactive, pair := app.NewUser(t)
	if r, err := app.Client.DeleteMeWithResponse(context.Background(), nil, client.DeleteUserRequest{CurrentPassword: ptr(testkit.Password)}, testkit.Bearer(pair.AccessToken)); err != nil || r.StatusCode() != 204 {
		t.Fatalf("delete: %v %v", err, r)
	}

	attempts := map[string]client.LoginRequest{
		"unknown email":  {Email: testkit.UniqueEmail(), Password: testkit.Password},
		"wrong password": {Email: email, Password: "Wrong-Horse-8"},
		"deactivated":    {Email: inactive.Email, Password: testkit.Password},
	}
	var bodies []string
	for name, req := range attempts {
		resp, err := app.Client.LoginWithResponse(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.ApplicationproblemJSON401
		if p == nil {
			t.Fatalf("%s: status %d, want 401", name, resp.StatusCode())
		}
		p.RequestId = "" // the only part allowed to differ
		p.Instance = nil
		bodies = append(bodies, p.Type+"|"+p.Title+"|"+p.Detail)
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("refusals differ: %q vs %q", b, bodies[0])
		}
	}
}

func TestLogout_RevokesSessionAtOnce(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	ctx := context.Background()

	resp, err := app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout status %d: %s", resp.StatusCode(), resp.Body)
	}
	me := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(pair.AccessToken)))(t)
	if me.StatusCode() != http.StatusUnauthorized {
		t.Errorf("access token after logout: status %d, want 401", me.StatusCode())
	}
	ref := testkit.Must(app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: pair.RefreshToken}))(t)
	if ref.StatusCode() != http.StatusUnauthorized {
		t.Errorf("refresh token after logout: status %d, want 401", ref.StatusCode())
	}
	again := testkit.Must(app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(pair.AccessToken)))(t)
	if again.StatusCode() != http.StatusUnauthorized {
		t.Errorf("second logout: status %d, want 401", again.StatusCode())
	}
}

func TestLogout_LeavesOtherSessionsAlone(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	u, first := app.NewUser(t)
	second := app.Login(t, u.Email, testkit.Password)

	if _, err := app.Client.LogoutWithResponse(context.Background(), nil, testkit.Bearer(first.AccessToken)); err != nil {
		t.Fatal(err)
	}
	me := testkit.Must(app.Client.GetMeWithResponse(context.Background(), testkit.Bearer(second.AccessToken)))(t)
	if me.StatusCode() != http.StatusOK {
		t.Errorf("other session after logout: status %d, want 200", me.StatusCode())
	}
}

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

// Not parallel: it reads pg_stat_activity for the whole database (see
// changePasswordDuring in users_test.go), which parallel tests would also show.
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
	if err := testkit.Pool(t).QueryRow(context.Background(), "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL", u.Id).Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if sessions != 1 { // only NewUser's own login
		t.Errorf("%d live sessions, want 1", sessions)
	}
}
