package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// postRaw sends body as typed, bypassing the client's JSON encoder (which
// cannot write a lone surrogate).
func postRaw(t *testing.T, app *testkit.App, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(app.URL+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestEmail_OnlyAddressesInOneDocumentedFormAreAccepted(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	for name, body := range map[string]string{
		"lone surrogate":  `{"email":"\ud800@example.com","password":"Correct-Horse-7"}`,
		"domain literal":  `{"email":"x@[10.0.0.5]","password":"Correct-Horse-7"}`,
		"zero-width":      `{"email":"ad\u200ba@example.com","password":"Correct-Horse-7"}`,
		"bidi override":   `{"email":"ada@example.com\u202e","password":"Correct-Horse-7"}`,
		"bare IP address": `{"email":"x@10.0.0.5","password":"Correct-Horse-7"}`,
	} {
		status, p := postRaw(t, app, "/auth/register", body)
		errs, _ := p["errors"].([]any)
		if status != http.StatusUnprocessableEntity || len(errs) != 1 || errs[0].(map[string]any)["field"] != "email" {
			t.Errorf("%s: %d %v, want 422 naming the email field", name, status, p)
		}
	}
	// forgot must not ask the relay to deliver to an internal address.
	if status, _ := postRaw(t, app, "/auth/password/forgot", `{"email":"x@[10.0.0.5]"}`); status != http.StatusUnprocessableEntity {
		t.Errorf("forgot for a domain literal: %d, want 422", status)
	}

	// An internationalised domain is stored in one form, whichever is typed.
	u := app.Register(t, "Ada@BÜCHER.example", testkit.Password)
	if u.Email != "Ada@xn--bcher-kva.example" {
		t.Errorf("stored as %q, want Ada@xn--bcher-kva.example", u.Email)
	}
	app.Login(t, "ada@bu\u0308cher.example", testkit.Password) // NFD, lower case
	app.Login(t, "ADA@xn--bcher-kva.example", testkit.Password)
	again := testkit.Must(app.Client.RegisterWithResponse(context.Background(), client.RegisterRequest{Email: "ada@xn--BCHER-kva.example", Password: testkit.Password}))(t)
	if again.StatusCode() != http.StatusConflict {
		t.Errorf("the same address in its other form: %d, want 409", again.StatusCode())
	}
}
