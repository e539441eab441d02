package server_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/testkit"
)

// exportMe asks for the caller's export.
func exportMe(t *testing.T, app *testkit.App, access string) *client.ExportMeResponse {
	t.Helper()
	return testkit.Must(app.Client.ExportMeWithResponse(context.Background(), testkit.Bearer(access)))(t)
}

// secretsOf is every secret authd stores for userID, in every spelling a
// JSON document could carry it: the password hash, sealed factor secrets,
// passkey public keys, recovery code hashes and refresh token hashes.
func secretsOf(t *testing.T, app *testkit.App, userID uuid.UUID) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	spell := func(b []byte) {
		out = append(out, hex.EncodeToString(b), base64.StdEncoding.EncodeToString(b), base64.RawURLEncoding.EncodeToString(b))
	}
	rows, err := app.Deps.DB.Pool().Query(ctx, `
		SELECT convert_to(password_hash, 'UTF8') FROM users WHERE id = $1
		UNION ALL SELECT secret_sealed FROM mfa_factors WHERE user_id = $1
		UNION ALL SELECT public_key FROM passkeys WHERE user_id = $1
		UNION ALL SELECT code_hash FROM recovery_codes WHERE user_id = $1
		UNION ALL SELECT token_hash FROM refresh_tokens JOIN sessions ON sessions.id = session_id WHERE user_id = $1`, userID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
		spell(b)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The export holds the profile, roles, every session (the ended one too),
// every event (an admin's named as "admin" only), the factor, the passkey
// and the identity; it is an attachment; it needs step-up; and none of
// the account's secrets is in it in any spelling.
func TestExportMe_EverythingAndNoSecret(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, first := app.NewUser(t)
	app.GrantRole(t, u.Id, "admin")
	second := app.Login(t, u.Email, testkit.Password)
	if r := testkit.Must(app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(second.AccessToken)))(t); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.StatusCode(), r.Body)
	}
	factor, secret, codes := app.EnrolTOTP(t, first.AccessToken)

	// With a factor, the aal 1 token must step up first.
	if r := exportMe(t, app, first.AccessToken); r.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(r.Body), "step-up-required") {
		t.Fatalf("export without step-up: %d %s", r.StatusCode(), r.Body)
	}
	code := app.TOTP(t, secret, 0)
	up := testkit.Must(app.Client.StepUpWithResponse(ctx, client.StepUpRequest{Code: &code}, testkit.Bearer(first.AccessToken)))(t)
	if up.JSON200 == nil {
		t.Fatalf("step-up: %d %s", up.StatusCode(), up.Body)
	}
	access := up.JSON200.AccessToken
	added, _ := addPasskey(t, app, access, testkit.NewAuthenticator(), nil)
	q := app.Deps.DB.Queries()
	identity, err := q.CreateIdentity(ctx, db.CreateIdentityParams{UserID: u.Id, Provider: "google", Subject: "sub-" + u.Id.String(), Email: "ada.g@example.com", EmailVerified: true, Now: app.Clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	adminID := uuid.New()
	if err := q.RecordEvent(ctx, db.RecordEventParams{UserID: u.Id, Kind: "admin_user_updated", Actor: "admin:" + adminID.String(), Ip: "203.0.113.9", UserAgent: "AdminBrowser/1", Now: app.Clock.Now()}); err != nil {
		t.Fatal(err)
	}

	r := exportMe(t, app, access)
	if r.JSON200 == nil {
		t.Fatalf("export: %d %s", r.StatusCode(), r.Body)
	}
	if got := r.HTTPResponse.Header.Get("Content-Disposition"); got != `attachment; filename="authd-export.json"` {
		t.Errorf("Content-Disposition %q", got)
	}
	x := r.JSON200
	if x.User.Id != u.Id || x.User.Email != u.Email || !slices.Equal(x.Roles, []string{"admin"}) {
		t.Errorf("profile %+v, roles %v", x.User, x.Roles)
	}
	var ended, live int
	for _, s := range x.Sessions {
		if s.RevokedAt != nil {
			ended++
		} else {
			live++
		}
		if s.Ip == "" || len(s.Amr) == 0 {
			t.Errorf("session without ip or amr: %+v", s)
		}
	}
	if ended != 1 || live != 1 {
		t.Errorf("sessions: %d ended, %d live, want 1 and 1: %+v", ended, live, x.Sessions)
	}
	kinds := map[string]int{}
	for _, e := range x.Events {
		kinds[e.Kind]++
		if e.Kind == "admin_user_updated" && (e.Actor == nil || *e.Actor != "admin" || e.Ip != "" || e.UserAgent != "") {
			t.Errorf("an admin's event shows actor %v from %q with %q, want admin and neither the admin's address nor agent", e.Actor, e.Ip, e.UserAgent)
		}
		if e.Kind == "login_succeeded" && e.Ip == "" {
			t.Errorf("the user's own login shows no address")
		}
		if e.Kind != "admin_user_updated" && e.Actor != nil {
			t.Errorf("the user's own %s shows actor %q", e.Kind, *e.Actor)
		}
	}
	for kind, n := range map[string]int{"registered": 1, "login_succeeded": 2, "logout": 1, "factor_added": 1, "step_up": 1, "passkey_added": 1, "admin_user_updated": 1} {
		if kinds[kind] != n {
			t.Errorf("events: %d %s, want %d (all: %v)", kinds[kind], kind, n, kinds)
		}
	}
	if len(x.Factors) != 1 || x.Factors[0].Id != factor.Id {
		t.Errorf("factors %+v, want %s", x.Factors, factor.Id)
	}
	if len(x.Passkeys) != 1 || x.Passkeys[0].Id != added.Passkey.Id {
		t.Errorf("passkeys %+v, want %s", x.Passkeys, added.Passkey.Id)
	}
	if len(x.Identities) != 1 || x.Identities[0].Id != identity.ID || x.Identities[0].Email != "ada.g@example.com" {
		t.Errorf("identities %+v, want %s", x.Identities, identity.ID)
	}

	body := string(r.Body)
	stored := secretsOf(t, app, u.Id)
	if rows := len(stored) / 4; rows < 1+1+1+10+3 { // hash, factor, passkey, codes, three refresh tokens
		t.Fatalf("only %d stored secrets found to look for", rows)
	}
	secrets := append(stored, secret, first.RefreshToken, second.RefreshToken, up.JSON200.RefreshToken, access, adminID.String(), "sub-"+u.Id.String())
	secrets = append(secrets, codes...)
	for _, s := range secrets {
		if len(s) >= 8 && strings.Contains(body, s) {
			t.Errorf("the export holds a secret or an admin's id: %q", s)
		}
	}
	for _, field := range []string{"password", "hash", "secret", "sealed", "public_key", "token", "subject"} {
		if strings.Contains(strings.ToLower(body), `"`+field) {
			t.Errorf("the export has a field named like %q", field)
		}
	}
}
