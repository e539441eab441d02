package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// TestLogs_NeverContainSecrets drives every flow that touches a secret,
// including failures logged at debug level, then searches the captured log
// for each password, token and stored hash.
func TestLogs_NeverContainSecrets(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	ctx := context.Background()
	email := testkit.UniqueEmail()
	secrets := []string{testkit.Password, "Wrong-Horse-8", "Second-Horse-9", "weakpw"}

	app.Register(t, email, testkit.Password)
	testkit.Must(app.Client.RegisterWithResponse(ctx, client.RegisterRequest{Email: email, Password: "weakpw"}))(t)
	testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: email, Password: "Wrong-Horse-8"}))(t)
	pair := app.Login(t, email, testkit.Password)
	secrets = append(secrets, pair.AccessToken, pair.RefreshToken)
	next := refresh(t, app, pair.RefreshToken).JSON200
	secrets = append(secrets, next.AccessToken, next.RefreshToken)
	_ = refresh(t, app, pair.RefreshToken) // grace retry
	newPassword := "Second-Horse-9"
	testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &newPassword, CurrentPassword: "Wrong-Horse-8"}, testkit.Bearer(next.AccessToken)))(t)
	testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{Password: &newPassword, CurrentPassword: testkit.Password}, testkit.Bearer(next.AccessToken)))(t)
	forged := next.AccessToken[:len(next.AccessToken)-4] + "AAAA"
	secrets = append(secrets, forged)
	testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(forged)))(t)
	testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")))(t)
	_ = refresh(t, app, next.RefreshToken)
	_ = refresh(t, app, pair.RefreshToken) // reuse: revokes the session
	testkit.Must(app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(next.AccessToken)))(t)

	var hash string
	if err := testkit.Pool(t).QueryRow(ctx, "SELECT password_hash FROM users WHERE email = $1", email).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, hash, hash[strings.LastIndex(hash, "$")+1:])

	logs := app.Logs.String()
	if len(app.Logs.Lines(`"level":"DEBUG"`)) == 0 || len(app.Logs.Lines("reuse detected")) == 0 {
		t.Fatalf("the flows did not log what this test needs to search:\n%s", logs)
	}
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("log contains a secret (%.6s...)", s)
		}
	}
	for _, line := range app.Logs.Lines(`"msg":"request"`) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["request_id"] == nil || rec["route"] == nil || rec["status"] == nil {
			t.Errorf("access log line lacks fields: %s", line)
		}
	}
}
