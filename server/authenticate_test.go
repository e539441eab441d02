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

// TestAuthenticate_AnswersBeforeValidation: a request to a bearer operation
// without a valid token is answered 401 whatever validation would say of
// it; the same request with a token shows what validation says.
func TestAuthenticate_AnswersBeforeValidation(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	_, pair := app.NewUser(t)
	cases := []struct {
		name, method, path, body string
		validated                int // the answer with a valid token
	}{
		{"wrong type", http.MethodPut, "/users/me", `{"email":5,"current_password":"x"}`, http.StatusBadRequest},
		{"unknown field", http.MethodPut, "/users/me", `{"admin":true,"current_password":"x"}`, http.StatusBadRequest},
		{"no fields", http.MethodPut, "/users/me", `{}`, http.StatusUnprocessableEntity},
		{"no body", http.MethodDelete, "/users/me", ``, http.StatusBadRequest},
		{"path parameter not a uuid", http.MethodDelete, "/users/me/sessions/not-a-uuid", ``, http.StatusBadRequest},
		{"query parameter of the wrong type", http.MethodGet, "/users/me/events?limit=many", ``, http.StatusBadRequest},
	}
	send := func(method, path, body, authorization string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		rec := httptest.NewRecorder()
		app.Handler.ServeHTTP(rec, req)
		return rec
	}
	for _, tc := range cases {
		if got := send(tc.method, tc.path, tc.body, "Bearer "+pair.AccessToken).Code; got != tc.validated {
			t.Errorf("%s with a token: %d, want %d", tc.name, got, tc.validated)
		}
		for authorization, challenge := range map[string]string{
			"":                   `Bearer realm="authd"`,
			"Bearer not-a-token": `Bearer realm="authd", error="invalid_token"`,
			"Basic dXNlcjpwYXNz": `Bearer realm="authd", error="invalid_token"`,
		} {
			rec := send(tc.method, tc.path, tc.body, authorization)
			if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "/problems/unauthorized") {
				t.Errorf("%s with Authorization %q: %d %s, want the 401", tc.name, authorization, rec.Code, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != challenge {
				t.Errorf("%s with Authorization %q: WWW-Authenticate %q, want %q", tc.name, authorization, got, challenge)
			}
		}
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
	del, err := app.Client.DeleteMeWithResponse(ctx, nil, client.DeleteUserRequest{CurrentPassword: ptr("x")})
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
