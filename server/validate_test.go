package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// TestValidation_ReadsPathParametersAsTheHandlerDoes: the validator checks
// a path parameter unescaped, as the generated handler binds it, so an
// escaped letter of a provider's name is that letter (the handler's 404 for
// an unknown provider), and what unescapes to a name outside the pattern is
// refused (422). A path Go escapes the same way arrives unescaped already,
// and is not unescaped twice.
func TestValidation_ReadsPathParametersAsTheHandlerDoes(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	query := url.Values{"redirect_to": {"https://app.example/done"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}.Encode()
	for _, tc := range []struct {
		provider string
		want     int
	}{
		{"nope", http.StatusNotFound},
		{"%6Eope", http.StatusNotFound},
		{"%2561", http.StatusUnprocessableEntity}, // the handler reads "%61", which is no name
		{"no%2Fpe", http.StatusUnprocessableEntity},
		{"NOPE", http.StatusUnprocessableEntity},
	} {
		resp, err := http.Get(app.URL + "/auth/oidc/" + tc.provider + "/authorize?" + query)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("provider %q: %d, want %d", tc.provider, resp.StatusCode, tc.want)
		}
	}
}

// TestValidation_ParametersAreUTF8Text: a query or path parameter that is not
// UTF-8 is a 400 naming it. Go's regexp reads a stray byte as U+FFFD, so the
// spec's patterns let it through, and PostgreSQL refused it (a 500).
func TestValidation_ParametersAreUTF8Text(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	credential := app.NewCredential(t, "users:read")
	for _, target := range []string{
		"/admin/users?email_prefix=%FF",
		"/admin/users?email_prefix=%C0%80",
		"/admin/users?email_prefix=a%ED%A0%80",
		"/auth/oidc/%FF/authorize?redirect_to=https%3A%2F%2Fapp.example%2Fdone",
	} {
		req := testkit.Must(http.NewRequest(http.MethodGet, app.URL+target, nil))(t)
		req.Header.Set("Authorization", "Bearer "+credential)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := string(testkit.Must(io.ReadAll(resp.Body))(t))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "is not UTF-8 text") {
			t.Errorf("%s: %d %s, want a 400 naming the parameter", target, resp.StatusCode, body)
		}
	}
}
