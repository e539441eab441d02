package server_test

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd"
	"github.com/authd/authd/server/testkit"
)

// accountOperations lists, from openapi.yaml, every operation whose answers
// can carry account data: those tagged auth, users or admin. browserSteps are
// those that answer a browser's navigation with a redirect (302) rather
// than with data.
func accountOperations(t *testing.T) (ops [][2]string, browserSteps map[string]bool) {
	t.Helper()
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	browserSteps = map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if slices.Contains(op.Tags, "auth") || slices.Contains(op.Tags, "users") || slices.Contains(op.Tags, "admin") {
				ops = append(ops, [2]string{method, path})
				if op.Responses.Value("302") != nil {
					browserSteps[method+" "+path] = true
				}
			}
		}
	}
	return ops, browserSteps
}

var pathParams = regexp.MustCompile(`\{[^}]+\}`)

// TestCacheControl_AccountAnswersAreNoStore: every answer of every operation
// that deals with an account, successes and problems alike, tells caches not
// to keep it.
func TestCacheControl_AccountAnswersAreNoStore(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits)
	ops, browserSteps := accountOperations(t)
	for _, want := range []string{"GET /users/me", "GET /users/me/sessions", "GET /users/me/events", "POST /auth/verify-email", "POST /auth/email/confirm", "POST /auth/login", "GET /admin/users"} {
		if !slices.ContainsFunc(ops, func(op [2]string) bool { return op[0]+" "+op[1] == want }) {
			t.Fatalf("%s is not among the account operations %v", want, ops)
		}
	}
	for _, op := range ops {
		method, path := op[0], op[1]
		t.Run(method+" "+path, func(t *testing.T) {
			_, pair := app.NewUser(t) // each its own: some operations end the session
			var body *strings.Reader
			if method == http.MethodPost || method == http.MethodPut {
				body = strings.NewReader(`{}`)
			} else {
				body = strings.NewReader("")
			}
			target, access := pathParams.ReplaceAllString(path, uuid.NewString()), pair.AccessToken
			if strings.HasPrefix(path, "/admin/") {
				// An admin of its own, acting on itself: the answers carry data.
				admin, token, _ := app.NewAdmin(t)
				target, access = pathParams.ReplaceAllString(path, admin.Id.String()), token
			}
			req, err := http.NewRequest(method, app.URL+target, body)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+access)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s %s answered %d with Cache-Control %q, want no-store", method, path, resp.StatusCode, got)
			}
			if method == http.MethodGet && resp.StatusCode != http.StatusOK && !browserSteps[method+" "+path] {
				t.Errorf("%s %s answered %d, want the account data (200)", method, path, resp.StatusCode)
			}
		})
	}
}
