package server_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/mail"
	"github.com/authd/authd/server/testkit"
)

// eraseByAdmin is DELETE /admin/users/{id} with tok.
func eraseByAdmin(t *testing.T, app *testkit.App, tok string, id uuid.UUID) *client.EraseAdminUserResponse {
	t.Helper()
	return testkit.Must(app.Client.EraseAdminUserWithResponse(context.Background(), id, testkit.Bearer(tok)))(t)
}

// eraseMe is DELETE /users/me?erase=true with password.
func eraseMe(t *testing.T, app *testkit.App, access, password string) *client.DeleteMeResponse {
	t.Helper()
	erase := true
	return testkit.Must(app.Client.DeleteMeWithResponse(context.Background(), &client.DeleteMeParams{Erase: &erase},
		client.DeleteUserRequest{CurrentPassword: &password}, testkit.Bearer(access)))(t)
}

// erasures counts the erasure records with actor.
func erasures(t *testing.T, app *testkit.App, actor string) int {
	t.Helper()
	var n int
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), `SELECT count(*) FROM erasures WHERE actor = $1`, actor).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// stepUpWithApp raises the session of access with the app's code and
// returns the new pair.
func stepUpWithApp(t *testing.T, app *testkit.App, access, secret string, steps int) client.TokenPair {
	t.Helper()
	code := app.TOTP(t, secret, steps)
	up := testkit.Must(app.Client.StepUpWithResponse(context.Background(), client.StepUpRequest{Code: &code}, testkit.Bearer(access)))(t)
	if up.JSON200 == nil {
		t.Fatalf("step-up: %d %s", up.StatusCode(), up.Body)
	}
	return *up.JSON200
}

// An admin erases a user who has everything a user can have: sessions
// (one ended), refresh tokens, events, an authenticator app, recovery
// codes, a passkey and a passkey ceremony, a login challenge, an identity
// and federated-login rows, mail queued to the address, a pending
// registration of it, an address they had before (the notice of the move
// went to it), a password reset and an email change under way, and
// admin actions of their own on others (an event and an erasure naming
// them as actor). Afterwards no column of any table holds the user's id,
// the id of any of their rows, or any of their addresses; their access and
// refresh tokens are refused at once; what they did as an admin is kept
// as done by an erased admin; the address registers again.
func TestEraseAdminUser_LeavesNothingOfTheUser(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.NoLimits, testkit.IsolatedDatabase(t)) // two email changes in a row; erasure records are counted over the table
	ctx := context.Background()
	q := app.Deps.DB.Queries()
	now := app.Clock.Now()

	victim, first := app.NewUser(t)
	formerEmail := victim.Email
	victim.Email = moveEmail(t, app, first.AccessToken)
	app.GrantRole(t, victim.Id, "admin")
	ended := app.Login(t, victim.Email, testkit.Password)
	if r := testkit.Must(app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(ended.AccessToken)))(t); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("logout: %d", r.StatusCode())
	}
	_, secret, codes := app.EnrolTOTP(t, first.AccessToken)
	if len(codes) == 0 {
		t.Fatal("no recovery codes")
	}
	live := stepUpWithApp(t, app, first.AccessToken, secret, 0)
	addPasskey(t, app, live.AccessToken, testkit.NewAuthenticator(), nil)
	passkeyCreation(t, app, live.AccessToken) // a ceremony left open
	newEmail := "moved-" + strings.ToLower(rand.Text()[:10]) + "@example.com"
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{CurrentPassword: testkit.Password, Email: &newEmail}, testkit.Bearer(live.AccessToken)))(t); r.JSON200 == nil {
		t.Fatalf("email change: %d %s", r.StatusCode(), r.Body)
	}
	if r := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: victim.Email}))(t); r.StatusCode() != http.StatusAccepted {
		t.Fatalf("forgot password: %d %s", r.StatusCode(), r.Body)
	}
	sessions := testkit.Must(q.ListAllSessions(ctx, victim.Id))(t)
	mustDo(t, q.CreateMfaChallenge(ctx, db.CreateMfaChallengeParams{TokenHash: []byte(rand.Text()), UserID: victim.Id, PasswordTag: []byte{1}, Amr: []string{"pwd"}, Now: now, ExpiresAt: now.Add(time.Minute)}))
	identity := testkit.Must(q.CreateIdentity(ctx, db.CreateIdentityParams{UserID: victim.Id, Provider: "google", Subject: "sub-" + rand.Text(), Email: victim.Email, Now: now}))(t)
	mustDo(t, q.CreateOidcLink(ctx, db.CreateOidcLinkParams{TokenHash: []byte(rand.Text()), Provider: "google", UserID: victim.Id, SessionID: sessions[0].ID, Now: now, ExpiresAt: now.Add(time.Minute)}))
	mustDo(t, q.CreateOidcLogin(ctx, db.CreateOidcLoginParams{StateHash: []byte(rand.Text()), BrowserHash: []byte{1}, Provider: "google", NonceHash: []byte{2}, LinkUserID: &victim.Id, LinkSessionID: &sessions[0].ID, Now: now, ExpiresAt: now.Add(time.Minute)}))
	mustDo(t, q.CreateOidcCode(ctx, db.CreateOidcCodeParams{CodeHash: []byte(rand.Text()), Purpose: "login", UserID: victim.Id, IdentityID: &identity.ID, Provider: "google", Subject: "s", Email: victim.Email, Now: now, ExpiresAt: now.Add(time.Minute)}))
	// A registration of the address left pending (an admin may create an
	// account for an address that was registering).
	if _, err := app.Deps.DB.Pool().Exec(ctx, `INSERT INTO pending_registrations (email, token_hash, expires_at) VALUES ($1, $2, now() + interval '1 hour')`, victim.Email, []byte(rand.Text())); err != nil {
		t.Fatal(err)
	}
	// The victim's own admin actions: an erasure through the API, and an
	// event on another user naming them.
	other, _ := app.NewUser(t)
	doomed, _ := app.NewUser(t)
	if r := eraseByAdmin(t, app, live.AccessToken, doomed.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("the victim's erasure of another: %d %s", r.StatusCode(), r.Body)
	}
	mustDo(t, q.RecordEvent(ctx, db.RecordEventParams{UserID: other.Id, Kind: "admin_user_updated", Actor: "admin:" + victim.Id.String(), Now: now}))

	tr := traces{ids: idsOfUser(t, app, victim.Id), texts: []string{victim.Email, newEmail, formerEmail}}
	before := tablesOf(findTraces(t, app, tr))
	for _, table := range append(tablesReferencingUsers(t, app), "refresh_tokens", "mail_outbox", "pending_registrations", "erasures", "account_tokens") {
		if !slices.Contains(before, table) {
			t.Errorf("the setup left nothing of the victim in %s (found in %v): the test would prove nothing there", table, before)
		}
	}

	admin, adminToken, _ := app.NewAdmin(t)
	erasedBefore := scrape(t, app, `authd_account_erasures_total{by="admin"}`)
	if r := eraseByAdmin(t, app, adminToken, victim.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("erase: %d %s", r.StatusCode(), r.Body)
	}
	if found := findTraces(t, app, tr); len(found) > 0 {
		t.Errorf("rows still naming the erased user: %v", found)
	}

	if r := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(live.AccessToken)))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the erased user's access token: %d, want 401", r.StatusCode())
	}
	if r := testkit.Must(app.Client.RefreshTokenWithResponse(ctx, client.RefreshRequest{RefreshToken: live.RefreshToken}))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the erased user's refresh token: %d, want 401", r.StatusCode())
	}
	if erasures(t, app, "admin:"+admin.Id.String()) != 1 || erasures(t, app, "admin:erased") != 1 {
		t.Errorf("erasure records: by the admin %d, by the erased admin %d; want 1 and 1",
			erasures(t, app, "admin:"+admin.Id.String()), erasures(t, app, "admin:erased"))
	}
	var actor string
	if err := app.Deps.DB.Pool().QueryRow(ctx, `SELECT actor FROM security_events WHERE user_id = $1 AND kind = 'admin_user_updated'`, other.Id).Scan(&actor); err != nil || actor != "admin:erased" {
		t.Errorf("the erased admin's action on another user: actor %q, %v", actor, err)
	}
	if got := scrape(t, app, `authd_account_erasures_total{by="admin"}`); got != erasedBefore+1 {
		t.Errorf("authd_account_erasures_total{by=admin} %v, want %v", got, erasedBefore+1)
	}
	lines := app.Logs.Lines(`"account erased"`)
	if len(lines) != 2 || !strings.Contains(lines[1], `"actor":"admin:`+admin.Id.String()+`"`) {
		t.Errorf("erasure log lines %q", lines)
	}
	for _, l := range lines {
		if strings.Contains(l, victim.Email) || strings.Contains(l, doomed.Email) || strings.Contains(l, victim.Id.String()+`"`) && !strings.Contains(l, `"user_id":"`+victim.Id.String()) {
			t.Errorf("an erasure log line names the erased: %s", l)
		}
	}
	app.Register(t, victim.Email, testkit.Password)
}

// mustDo fails the test on err.
func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// Who may erase whom through the admin API: not oneself (409 conflict),
// not an unknown id (404), not an admin with a credential (403), not with
// a credential lacking users:erase (403); a credential with it may erase
// a user, and the erasure records it as the actor; another admin may erase
// an admin. The app has a database of its own, so the erasures are the
// test's. (The last admin erasing themself: TestDeleteMe_TheLastAdminStays.)
func TestEraseAdminUser_Refusals(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	admin, adminToken, _ := app.NewAdmin(t)
	problemType := func(r *client.EraseAdminUserResponse) string {
		t.Helper()
		if r.ApplicationproblemJSON409 != nil {
			return r.ApplicationproblemJSON409.Type
		}
		return ""
	}

	if r := eraseByAdmin(t, app, adminToken, admin.Id); r.StatusCode() != http.StatusConflict || !strings.HasSuffix(problemType(r), "/conflict") {
		t.Errorf("erasing oneself: %d %s, want 409 conflict", r.StatusCode(), r.Body)
	}
	if r := eraseByAdmin(t, app, adminToken, uuid.New()); r.StatusCode() != http.StatusNotFound {
		t.Errorf("erasing an unknown id: %d %s, want 404", r.StatusCode(), r.Body)
	}
	eraser := app.NewCredential(t, "users:erase")
	if r := eraseByAdmin(t, app, eraser, admin.Id); r.StatusCode() != http.StatusForbidden {
		t.Errorf("a credential erasing an admin: %d %s, want 403", r.StatusCode(), r.Body)
	}
	user, _ := app.NewUser(t)
	if r := eraseByAdmin(t, app, app.NewCredential(t, "users:read", "users:write"), user.Id); r.StatusCode() != http.StatusForbidden {
		t.Errorf("a credential without users:erase: %d %s, want 403", r.StatusCode(), r.Body)
	}
	if got := erasures(t, app, "admin:"+admin.Id.String()); got != 0 {
		t.Fatalf("%d erasures after refusals only", got)
	}

	if r := eraseByAdmin(t, app, eraser, user.Id); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("a credential with users:erase: %d %s", r.StatusCode(), r.Body)
	}
	var actor string
	if err := app.Deps.DB.Pool().QueryRow(context.Background(), `SELECT actor FROM erasures`).Scan(&actor); err != nil || !strings.HasPrefix(actor, "service:") {
		t.Errorf("the erasure's actor %q, %v; want service:<credential id>", actor, err)
	}
	if r := eraseByAdmin(t, app, eraser, user.Id); r.StatusCode() != http.StatusNotFound {
		t.Errorf("erasing an erased user again: %d, want 404", r.StatusCode())
	}
	// Another admin erases the first.
	_, second, _ := app.NewAdmin(t)
	if r := eraseByAdmin(t, app, second, admin.Id); r.StatusCode() != http.StatusNoContent {
		t.Errorf("erasing an admin who is not the last: %d %s", r.StatusCode(), r.Body)
	}
}

// A user erases their own account: not with a wrong password (403, nothing
// erased), not without a recent authentication (401 step-up-required);
// then at once: the token is refused, the erasure is recorded without an
// actor, and the address registers again.
func TestDeleteMe_EraseTheOwnAccount(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	selfBefore := scrape(t, app, `authd_account_erasures_total{by="self"}`)

	if r := eraseMe(t, app, pair.AccessToken, "Wrong-Horse-8"); r.StatusCode() != http.StatusForbidden {
		t.Fatalf("erase with a wrong password: %d %s, want 403", r.StatusCode(), r.Body)
	}
	app.Clock.Advance(app.Deps.MFA.StepUpMaxAge + time.Minute)
	if r := eraseMe(t, app, pair.AccessToken, testkit.Password); r.StatusCode() != http.StatusUnauthorized || !strings.Contains(string(r.Body), "step-up-required") {
		t.Fatalf("erase without a recent authentication: %d %s, want 401 step-up-required", r.StatusCode(), r.Body)
	}
	if _, err := app.Deps.DB.Queries().GetUserByID(ctx, u.Id); err != nil {
		t.Fatalf("a refused erasure erased: %v", err)
	}
	pw := testkit.Password
	up := testkit.Must(app.Client.StepUpWithResponse(ctx, client.StepUpRequest{Password: &pw}, testkit.Bearer(pair.AccessToken)))(t)
	if up.JSON200 == nil {
		t.Fatalf("step-up: %d %s", up.StatusCode(), up.Body)
	}
	if r := eraseMe(t, app, up.JSON200.AccessToken, testkit.Password); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("erase: %d %s", r.StatusCode(), r.Body)
	}
	if r := testkit.Must(app.Client.GetMeWithResponse(ctx, testkit.Bearer(up.JSON200.AccessToken)))(t); r.StatusCode() != http.StatusUnauthorized {
		t.Errorf("the erased user's access token: %d, want 401", r.StatusCode())
	}
	if _, err := app.Deps.DB.Queries().GetUserByID(ctx, u.Id); err == nil {
		t.Error("the account is still there")
	}
	if got := scrape(t, app, `authd_account_erasures_total{by="self"}`); got != selfBefore+1 {
		t.Errorf("authd_account_erasures_total{by=self} %v, want %v", got, selfBefore+1)
	}
	if lines := app.Logs.Lines(`"account erased"`, `"by":"self"`); len(lines) != 1 || strings.Contains(lines[0], u.Email) || strings.Contains(lines[0], u.Id.String()) {
		t.Errorf("erasure log lines %q", lines)
	}
	if lines := app.Logs.Lines(`"msg":"request"`, `"method":"DELETE"`, `"status":204`); len(lines) == 0 || strings.Contains(lines[len(lines)-1], u.Id.String()) {
		t.Errorf("the erasure's request log names the erased: %q", lines)
	}
	app.Register(t, u.Email, testkit.Password)
}

// The last active admin can neither erase nor deactivate their own
// account (409 last-admin); once there is another admin, they can.
func TestDeleteMe_TheLastAdminStays(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	ctx := context.Background()
	_, adminToken, _ := app.NewAdmin(t)
	if r := eraseMe(t, app, adminToken, testkit.Password); r.StatusCode() != http.StatusConflict || r.ApplicationproblemJSON409 == nil || !strings.HasSuffix(r.ApplicationproblemJSON409.Type, "/last-admin") {
		t.Errorf("the last admin's erasure: %d %s, want 409 last-admin", r.StatusCode(), r.Body)
	}
	pw := testkit.Password
	deactivate := func() int {
		r := testkit.Must(app.Client.DeleteMeWithResponse(ctx, nil, client.DeleteUserRequest{CurrentPassword: &pw}, testkit.Bearer(adminToken)))(t)
		return r.StatusCode()
	}
	if got := deactivate(); got != http.StatusConflict {
		t.Errorf("the last admin's deactivation: %d, want 409", got)
	}
	app.NewAdmin(t)
	if got := deactivate(); got != http.StatusNoContent {
		t.Errorf("an admin's deactivation with another admin left: %d, want 204", got)
	}
}

// moveEmail changes the address of access's account to a new one and
// confirms it, so that the old address got the notice of the move.
func moveEmail(t *testing.T, app *testkit.App, access string) string {
	t.Helper()
	ctx := context.Background()
	moved := testkit.UniqueEmail()
	if r := testkit.Must(app.Client.UpdateMeWithResponse(ctx, client.UpdateUserRequest{CurrentPassword: testkit.Password, Email: &moved}, testkit.Bearer(access)))(t); r.JSON200 == nil {
		t.Fatalf("email change: %d %s", r.StatusCode(), r.Body)
	}
	_, text := queuedMail(t, app, mail.KindEmailChangeConfirm, moved)
	if r := testkit.Must(app.Client.ConfirmEmailChangeWithResponse(ctx, client.TokenRequest{Token: testkit.LinkToken(t, text)}, testkit.Bearer(access)))(t); r.JSON200 == nil {
		t.Fatalf("confirm the email change: %d %s", r.StatusCode(), r.Body)
	}
	return moved
}

// TestEraseMe_LeavesTheMailOfAnotherAccountAlone: bob+x@ is an account of
// its own, not bob@'s, whatever one mailbox receives: erasing it keeps the
// mail queued for bob@ (a reset link, a security notice).
func TestEraseMe_LeavesTheMailOfAnotherAccountAlone(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	bob, _ := app.NewUser(t)
	if r := testkit.Must(app.Client.ForgotPasswordWithResponse(ctx, client.EmailRequest{Email: bob.Email}))(t); r.StatusCode() != http.StatusAccepted {
		t.Fatalf("forgot password: %d %s", r.StatusCode(), r.Body)
	}
	tagged := strings.Replace(bob.Email, "@", "+x@", 1)
	app.Register(t, tagged, testkit.Password)
	pair := app.Login(t, tagged, testkit.Password)
	if r := eraseMe(t, app, pair.AccessToken, testkit.Password); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("erase: %d %s", r.StatusCode(), r.Body)
	}
	if subject, _ := queuedMail(t, app, mail.KindPasswordReset, bob.Email); subject == "" {
		t.Error("bob's reset mail has no subject")
	}
}
