package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// TestRequests_EveryBodyReadAsJSONPassesTheGuard: whatever the Content-Type
// says beside "json" (parameters mime.ParseMediaType refuses, other case,
// a suffix), a body with a duplicated key is a 400, never a registration.
func TestRequests_EveryBodyReadAsJSONPassesTheGuard(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	for _, ct := range []string{
		"application/json; charset=utf-8; charset=x", // duplicate parameter
		"application/json; charset",                  // parameter without a value
		`application/json; x="unterminated`,
		"application/json;;",
		"Application/JSON",
		"application/json ; charset=utf-8",
		"application/jsonx",
		"application/merge-patch+json",
	} {
		t.Run(ct, func(t *testing.T) {
			email := testkit.UniqueEmail()
			body := `{"email":"` + testkit.UniqueEmail() + `","email":"` + email + `","password":"Correct-Horse-7"}`
			status, answer := post(t, app, ct, body)
			if status != http.StatusBadRequest {
				t.Errorf("duplicate keys under %q: status %d, want 400: %s", ct, status, answer)
			}
			if status < 300 || strings.Contains(answer, email) {
				t.Errorf("the body was acted on: %d %s", status, answer)
			}
		})
	}
}
