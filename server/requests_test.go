package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// post sends a raw body to /auth/register through the validating client.
func post(t *testing.T, app *testkit.App, contentType, body string) (int, string) {
	t.Helper()
	resp, err := app.Client.RegisterWithBodyWithResponse(context.Background(), contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.HTTPResponse.Header.Get("Content-Type"); resp.StatusCode() >= 400 && ct != "application/problem+json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	return resp.StatusCode(), string(resp.Body)
}

func TestRequests_MalformedBodiesAre400(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	email := testkit.UniqueEmail()
	cases := map[string]struct{ contentType, body, want string }{
		"truncated JSON":        {"application/json", `{"email": "a@b.co", "password": `, "JSON"},
		"not JSON":              {"application/json", `email=a@b.co`, "JSON"},
		"trailing garbage":      {"application/json", `{"email":"` + email + `","password":"Correct-Horse-7"} x`, "JSON"},
		"duplicate field":       {"application/json", `{"email":"` + email + `","password":"Correct-Horse-7","password":"Other-Horse-8"}`, "duplicate field"},
		"unknown field":         {"application/json", `{"email":"` + email + `","password":"Correct-Horse-7","admin":true}`, "admin"},
		"key differing by case": {"application/json", `{"email":"` + email + `","Password":"Correct-Horse-7","password":"Correct-Horse-7"}`, "Password"},
		"wrong type":            {"application/json", `{"email":["` + email + `"],"password":"Correct-Horse-7"}`, "email"},
		"array body":            {"application/json", `[]`, "object"},
		"wrong content type":    {"text/plain", `{"email":"` + email + `","password":"Correct-Horse-7"}`, "Content-Type"},
		"form content type":     {"application/x-www-form-urlencoded", `email=a`, "Content-Type"},
		"empty body":            {"application/json", ``, "required"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			status, body := post(t, app, tc.contentType, tc.body)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
				t.Errorf("status %d, want 400 mentioning %q: %s", status, tc.want, body)
			}
		})
	}
	// None of the refused bodies created the account.
	resp := testkit.Must(app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(email)))(t)
	if resp.StatusCode() != http.StatusUnauthorized {
		t.Errorf("a refused body created the user: login status %d", resp.StatusCode())
	}
}

func TestRequests_OversizedBodyIs413(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	big := `{"email":"a@b.co","password":"` + strings.Repeat("A", 70_000) + `"}`
	status, body := post(t, app, "application/json", big)
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "payload-too-large") {
		t.Fatalf("status %d: %.300s", status, body)
	}

	// Without Content-Length (chunked), the cap still holds.
	req := testkit.Must(http.NewRequest(http.MethodPost, app.URL+"/auth/register", struct{ *strings.Reader }{strings.NewReader(big)}))(t)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || req.ContentLength != 0 {
		t.Errorf("chunked oversized body: status %d (content-length %d)", resp.StatusCode, req.ContentLength)
	}
}

func TestRequests_RequestIDIsAuthdsOwnAndTheClientsIsLogged(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	cases := map[string]struct {
		sent   string
		echoed bool
	}{
		"sane id logged":     {"trace-123.abc_DEF", true},
		"absent is made":     {"", false},
		"unsafe is replaced": {"bad id\twith<chars>", false},
		"too long replaced":  {strings.Repeat("a", 129), false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp, err := app.Client.GetHealthWithResponse(context.Background(), func(_ context.Context, r *http.Request) error {
				if tc.sent != "" {
					r.Header.Set("X-Request-ID", tc.sent)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			// The id is always authd's own; a sane one of the client's is
			// logged beside it.
			got := resp.HTTPResponse.Header.Get("X-Request-ID")
			if got == "" || got == tc.sent {
				t.Errorf("X-Request-ID = %q, want a fresh id", got)
			}
			lines := app.Logs.Lines(`"request_id":"`+got+`"`, `"route":"/health"`)
			if len(lines) != 1 {
				t.Fatalf("access log lines for %s: %d", got, len(lines))
			}
			if logged := strings.Contains(lines[0], `"client_request_id":"`+tc.sent+`"`); logged != tc.echoed {
				t.Errorf("client's id %q logged: %v, want %v", tc.sent, logged, tc.echoed)
			}
		})
	}
}

func TestRequests_ProblemCarriesRequestID(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.GetMeWithResponse(context.Background(), testkit.Header("X-Request-ID", "req-42"))
	if err != nil {
		t.Fatal(err)
	}
	if p := resp.ApplicationproblemJSON401; p == nil || p.RequestId != resp.HTTPResponse.Header.Get("X-Request-ID") || p.Status != 401 {
		t.Fatalf("problem = %s", resp.Body)
	}
}

func TestRequests_UnknownRoutesAndMethodsAreProblems(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/no-such-thing", http.StatusNotFound},
		{http.MethodPatch, "/users/me", http.StatusMethodNotAllowed},
		{http.MethodGet, "/auth/login", http.StatusMethodNotAllowed},
	} {
		req := testkit.Must(http.NewRequest(tc.method, app.URL+tc.path, nil))(t)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

// TestRequests_DeleteBodiesPassTheGuard: the DELETEs that take a body (the
// current password) get the same cap and JSON checks as a POST.
func TestRequests_DeleteBodiesPassTheGuard(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	_, pair := app.NewUser(t)
	for name, tc := range map[string]struct {
		body string
		want int
	}{
		"duplicate key":    {`{"current_password":"wrong","current_password":"` + testkit.Password + `"}`, http.StatusBadRequest},
		"trailing garbage": {`{"current_password":"` + testkit.Password + `"} x`, http.StatusBadRequest},
		"over 64 KiB":      {`{"current_password":"` + testkit.Password + `"}` + strings.Repeat(" ", 1<<20), http.StatusRequestEntityTooLarge},
	} {
		req := testkit.Must(http.NewRequest(http.MethodDelete, app.URL+"/users/me", strings.NewReader(tc.body)))(t)
		req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, tc.want)
		}
	}
	if got := meStatus(t, app, pair.AccessToken); got != http.StatusOK {
		t.Errorf("a refused body deleted the account: GET /users/me %d", got)
	}
}

func TestRequests_SecurityHeadersAndCORS(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := http.Get(app.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"X-Content-Type-Options":  "nosniff",
		"X-Frame-Options":         "DENY",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}

	preflight := func(origin string) *http.Response {
		req := testkit.Must(http.NewRequest(http.MethodOptions, app.URL+"/auth/login", nil))(t)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	allowed := preflight("https://app.example.com")
	if got := allowed.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("allowed origin: Access-Control-Allow-Origin = %q", got)
	}
	for _, method := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} { // every method of the spec's operations
		if got := allowed.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(got, method) {
			t.Errorf("Access-Control-Allow-Methods = %q, want %s among them", got, method)
		}
	}
	if got := preflight("https://evil.example.net").Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("foreign origin allowed: %q", got)
	}
}

// TestRequests_HSTSWhenThePublicURLIsHTTPS: behind an https public URL,
// browsers are told never to try plain http, on every response.
func TestRequests_HSTSWhenThePublicURLIsHTTPS(t *testing.T) {
	t.Parallel()
	hsts := func(publicURL, path string) string {
		app := testkit.NewApp(t, func(d *server.Deps) { d.Mail.PublicURL = publicURL })
		resp, err := http.Get(app.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Strict-Transport-Security")
	}
	for _, path := range []string{"/health", "/nowhere", "/docs/"} {
		if got := hsts("https://auth.example.com", path); got != "max-age=31536000" {
			t.Errorf("https public URL, %s: Strict-Transport-Security = %q", path, got)
		}
	}
	if got := hsts("http://localhost:8080", "/health"); got != "" {
		t.Errorf("http public URL: Strict-Transport-Security = %q, want none", got)
	}
}

func TestRequests_LoginAndRefreshValidateToo(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	cases := []struct {
		name string
		send func() (int, error)
		want int
	}{
		{"login with a malformed email", func() (int, error) {
			r, err := app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: "nope", Password: "x"})
			return r.StatusCode(), err
		}, http.StatusUnprocessableEntity},
		{"login with an empty password", func() (int, error) {
			r, err := app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: testkit.UniqueEmail(), Password: ""})
			return r.StatusCode(), err
		}, http.StatusUnprocessableEntity},
		{"login with a number for email", func() (int, error) {
			r, err := app.Client.LoginWithBodyWithResponse(ctx, "application/json", strings.NewReader(`{"email":1,"password":"x"}`))
			return r.StatusCode(), err
		}, http.StatusBadRequest},
		{"refresh with an empty token", func() (int, error) {
			r, err := app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: ""})
			return r.StatusCode(), err
		}, http.StatusUnprocessableEntity},
		{"refresh with an unknown field", func() (int, error) {
			r, err := app.Client.RefreshTokenWithBodyWithResponse(ctx, "application/json", strings.NewReader(`{"refresh_token":"abc","session":"x"}`))
			return r.StatusCode(), err
		}, http.StatusBadRequest},
		{"refresh without a body", func() (int, error) {
			r, err := app.Client.RefreshTokenWithBodyWithResponse(ctx, "application/json", strings.NewReader(``))
			return r.StatusCode(), err
		}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		got, err := tc.send()
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestRequests_EveryProtectedOperationRefusesAnonymous walks the spec, so a
// new operation or a routing slip cannot skip authentication unnoticed.
func TestRequests_EveryProtectedOperationRefusesAnonymous(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security == nil || len(*op.Security) == 0 {
				continue
			}
			url := app.URL + strings.ReplaceAll(path, "{id}", uuid.NewString())
			req := testkit.Must(http.NewRequest(method, url, strings.NewReader(`{}`)))(t)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s without a token: %d", method, path, resp.StatusCode)
			}
			checked++
		}
	}
	if checked < 6 {
		t.Errorf("only %d protected operations found", checked)
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

// TestRequests_UnknownFieldNamesTheExpectedOnes: a client that guessed a
// field name is told the names the body takes.
func TestRequests_UnknownFieldNamesTheExpectedOnes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.LoginWithBodyWithResponse(context.Background(), "application/json", strings.NewReader(`{"username":"ada@example.com","password":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := "unknown field; expected email, password"
	p := resp.ApplicationproblemJSON400
	if resp.StatusCode() != http.StatusBadRequest || p == nil || p.Errors == nil {
		t.Fatalf("unknown field: %d %s", resp.StatusCode(), resp.Body)
	}
	if errs := *p.Errors; len(errs) != 1 || errs[0].Field != "username" || errs[0].Message != want {
		t.Errorf("errors %+v, want username: %s", errs, want)
	}
	if p.Detail != "username: "+want {
		t.Errorf("detail %v, want %q", p.Detail, "username: "+want)
	}
}
