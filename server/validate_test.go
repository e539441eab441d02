package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// TestValidation_ReadsPathParametersAsTheHandlerDoes: the validator checks
// a path parameter unescaped, as the generated handler binds it, so an
// escaped letter of a provider's name is that letter (the handler's 404 for
// an unknown provider), and what unescapes to a name outside the pattern is
// refused (422).
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
