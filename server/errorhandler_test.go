package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

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
