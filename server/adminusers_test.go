package server_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/testkit"
)

// listUsers is GET /admin/users, which must answer 200.
func listUsers(t *testing.T, app *testkit.App, tok string, p client.ListAdminUsersParams) client.AdminUserPage {
	t.Helper()
	r := testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), &p, testkit.Bearer(tok)))(t)
	if r.JSON200 == nil {
		t.Fatalf("list users %+v: %d %s", p, r.StatusCode(), r.Body)
	}
	return *r.JSON200
}

// emails are the addresses of a page's users, in order.
func emails(page client.AdminUserPage) []string {
	var out []string
	for _, u := range page.Users {
		out = append(out, u.Email)
	}
	return out
}

// TestAdminUsers_ListFiltersByEveryParameter: the prefix ignores case;
// active, verified, role and the creation range each narrow the list;
// users come in creation order.
func TestAdminUsers_ListFiltersByEveryParameter(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	_, admin, _ := app.NewAdmin(t)
	prefix := "f" + strings.ToLower(uuid.NewString()[:8])
	var users []client.User
	var between time.Time
	for i := range 4 {
		if i == 2 {
			app.Clock.Advance(time.Minute) // a gap the creation range can fall in
			between = app.Clock.Now()
			app.Clock.Advance(time.Minute)
		}
		users = append(users, app.Register(t, prefix+"-"+string(rune('a'+i))+"@example.com", testkit.Password))
	}
	patched(t, app, admin, users[0].Id, client.UpdateAdminUserRequest{Active: ptr(false)})
	patched(t, app, admin, users[1].Id, client.UpdateAdminUserRequest{EmailVerified: ptr(true)})
	patched(t, app, admin, users[2].Id, client.UpdateAdminUserRequest{Roles: &[]string{supportRole}})

	all := []string{users[0].Email, users[1].Email, users[2].Email, users[3].Email}
	for _, c := range []struct {
		name string
		p    client.ListAdminUsersParams
		want []string
	}{
		{"prefix in upper case", client.ListAdminUsersParams{EmailPrefix: ptr(strings.ToUpper(prefix))}, all},
		{"inactive", client.ListAdminUsersParams{EmailPrefix: &prefix, Active: ptr(false)}, all[:1]},
		{"active", client.ListAdminUsersParams{EmailPrefix: &prefix, Active: ptr(true)}, all[1:]},
		{"verified", client.ListAdminUsersParams{EmailPrefix: &prefix, Verified: ptr(true)}, all[1:2]},
		{"role", client.ListAdminUsersParams{EmailPrefix: &prefix, Role: ptr(supportRole)}, all[2:3]},
		{"created before", client.ListAdminUsersParams{EmailPrefix: &prefix, CreatedBefore: &between}, all[:2]},
		{"created after", client.ListAdminUsersParams{EmailPrefix: &prefix, CreatedAfter: &between}, all[2:]},
		{"a range without users", client.ListAdminUsersParams{EmailPrefix: &prefix, CreatedAfter: &between, CreatedBefore: &between}, nil},
	} {
		page := listUsers(t, app, admin, c.p)
		if got := emails(page); !slices.Equal(got, c.want) || page.NextCursor != nil {
			t.Errorf("%s: %v (next %v), want %v", c.name, got, page.NextCursor, c.want)
		}
	}
	u := listUsers(t, app, admin, client.ListAdminUsersParams{EmailPrefix: ptr(users[2].Email)}).Users[0]
	if u.Id != users[2].Id || !slices.Equal(u.Roles, []string{supportRole}) || !u.HasPassword || !u.IsActive || u.EmailVerifiedAt != nil {
		t.Errorf("listed user: %+v", u)
	}
}

// TestAdminUsers_PagesFollowTheCursor: limit sizes the pages, the last one
// has no next_cursor, and the pages together are the whole list in order.
func TestAdminUsers_PagesFollowTheCursor(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	_, admin, _ := app.NewAdmin(t)
	prefix := "p" + strings.ToLower(uuid.NewString()[:8])
	var want []string
	for i := range 5 {
		want = append(want, app.Register(t, prefix+"-"+string(rune('a'+i))+"@example.com", testkit.Password).Email)
	}
	var got []string
	var sizes []int
	p := client.ListAdminUsersParams{EmailPrefix: &prefix, Limit: ptr(2)}
	for {
		page := listUsers(t, app, admin, p)
		got, sizes = append(got, emails(page)...), append(sizes, len(page.Users))
		if page.NextCursor == nil {
			break
		}
		p.Cursor = page.NextCursor
	}
	if !slices.Equal(got, want) || !slices.Equal(sizes, []int{2, 2, 1}) {
		t.Fatalf("pages %v of sizes %v, want %v", got, sizes, want)
	}
}

// TestAdminUsers_ACursorAuthdDidNotIssueIsABadRequest: text that is not
// base64url, bytes of the wrong length, and times no user can have (they
// would not even fit PostgreSQL) answer 400, never 500; a NUL in the
// prefix is a 422.
func TestAdminUsers_ACursorAuthdDidNotIssueIsABadRequest(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	_, admin, _ := app.NewAdmin(t)
	tiny := append([]byte{0x80}, make([]byte, 23)...)
	huge := append([]byte{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, make([]byte, 16)...)
	for name, cursor := range map[string]string{
		"not base64url":    "not a cursor!",
		"padded":           base64.URLEncoding.EncodeToString(make([]byte, 23)),
		"too short":        base64.RawURLEncoding.EncodeToString(make([]byte, 23)),
		"too long":         base64.RawURLEncoding.EncodeToString(make([]byte, 25)),
		"before year 1":    base64.RawURLEncoding.EncodeToString(tiny),
		"after year 9999":  base64.RawURLEncoding.EncodeToString(huge),
		"an events cursor": "12345",
		"a uuid alone":     base64.RawURLEncoding.EncodeToString(make([]byte, 16)),
	} {
		r := testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), &client.ListAdminUsersParams{Cursor: &cursor}, testkit.Bearer(admin)))(t)
		wantAnswer(t, name, r.StatusCode(), r.Body, http.StatusBadRequest, "bad-request")
	}
	// A NUL, which PostgreSQL text cannot hold, or another control or
	// format character in the one free-text filter: 422, as the spec says.
	for _, prefix := range []string{"a\x00b", "a\nb", "a\u200bb"} {
		r := testkit.Must(app.Client.ListAdminUsersWithResponse(context.Background(), &client.ListAdminUsersParams{EmailPrefix: &prefix}, testkit.Bearer(admin)))(t)
		wantAnswer(t, fmt.Sprintf("email_prefix %q", prefix), r.StatusCode(), r.Body, http.StatusUnprocessableEntity, "validation")
	}
}

// TestAdminUsers_PagingUnderConcurrentRegistrationsListsEveryUserOnce:
// while pages are read, another goroutine registers users, one at least
// between any two pages, created (by the app's clock) alternately before
// every existing user and after them: a listing by position would shift
// under the first kind and list users twice. Every user that existed
// before the first page is listed exactly once, and no user twice.
func TestAdminUsers_PagingUnderConcurrentRegistrationsListsEveryUserOnce(t *testing.T) {
	t.Parallel()
	app := adminApp(t, true, testkit.NoLimits) // every user in the database is this test's; registrations unlimited
	adminUser, _, _ := app.NewAdmin(t)
	reader := app.NewCredential(t, "users:read") // a credential: its use does not depend on the clock moving back
	before := map[uuid.UUID]bool{adminUser.Id: true}
	for range 24 {
		before[app.Register(t, testkit.UniqueEmail(), testkit.Password).Id] = true
	}

	registered := make(chan struct{})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		app.Clock.Advance(-time.Hour) // the first one lands before every existing user
		for i := 0; ; i++ {
			r, err := app.Client.RegisterWithResponse(context.Background(), testkit.RegisterBody())
			if err != nil || r.JSON201 == nil {
				t.Errorf("concurrent registration: %v %v", err, r)
				return
			}
			if i%2 == 0 {
				app.Clock.Advance(2 * time.Hour) // the next after every existing user
			} else {
				app.Clock.Advance(-2 * time.Hour)
			}
			select {
			case registered <- struct{}{}:
			case <-stop:
				return
			}
		}
	})
	seen := map[uuid.UUID]int{}
	p := client.ListAdminUsersParams{Limit: ptr(3)}
	pages := 0
	for {
		page := listUsers(t, app, reader, p)
		pages++
		for _, u := range page.Users {
			seen[u.Id]++
		}
		if page.NextCursor == nil {
			break
		}
		p.Cursor = page.NextCursor
		<-registered // at least one user more before the next page
	}
	close(stop)
	wg.Wait()

	for id := range before {
		if seen[id] != 1 {
			t.Errorf("user %s from before the listing seen %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("user %s seen %d times", id, n)
		}
	}
	if pages < len(before)/3 {
		t.Fatalf("only %d pages", pages)
	}
}

// TestAdminUsers_GetShowsMetadataNeverSecrets: the detail of a user lists
// the live sessions, factors, passkeys and identities with their ids, and
// nothing secret: no password hash, no TOTP secret, no key, no subject.
func TestAdminUsers_GetShowsMetadataNeverSecrets(t *testing.T) {
	t.Parallel()
	app := adminApp(t, false)
	ctx := context.Background()
	adminUser, admin, _ := app.NewAdmin(t)
	u, pair := app.NewUser(t)
	app.Login(t, u.Email, testkit.Password) // a second session
	ended := app.Login(t, u.Email, testkit.Password)
	testkit.Must(app.Client.LogoutWithResponse(ctx, nil, testkit.Bearer(ended.AccessToken)))(t)
	_, factor, secret, passkey := addTwoFactors(t, app, pair.AccessToken)
	identity := testkit.Must(app.Deps.DB.Queries().CreateIdentity(ctx, db.CreateIdentityParams{
		UserID: u.Id, Provider: "google", Subject: "subject-" + uuid.NewString(), Email: u.Email, EmailVerified: true, Now: app.Clock.Now(),
	}))(t)

	r := testkit.Must(app.Client.GetAdminUserWithResponse(ctx, u.Id, testkit.Bearer(admin)))(t)
	if r.JSON200 == nil {
		t.Fatalf("get: %d %s", r.StatusCode(), r.Body)
	}
	d := r.JSON200
	if d.User.Id != u.Id || d.User.Email != u.Email || !d.User.HasPassword || len(d.User.Roles) != 0 {
		t.Errorf("user: %+v", d.User)
	}
	if len(d.Sessions) != 2 || slices.ContainsFunc(d.Sessions, func(s client.Session) bool { return s.Current }) {
		t.Errorf("sessions: %+v, want the 2 live ones, none the admin's", d.Sessions)
	}
	if len(d.Factors) != 1 || d.Factors[0].Id != factor.Id || d.Factors[0].Status != client.Active {
		t.Errorf("factors: %+v", d.Factors)
	}
	if len(d.Passkeys) != 1 || d.Passkeys[0].Id.String() == "" {
		t.Errorf("passkeys: %+v", d.Passkeys)
	}
	if len(d.Identities) != 1 || d.Identities[0].Id != identity.ID || d.Identities[0].Provider != "google" || !d.Identities[0].EmailVerified {
		t.Errorf("identities: %+v", d.Identities)
	}
	stored := testkit.Must(app.Deps.DB.Queries().GetUserByID(ctx, u.Id))(t)
	for name, secretText := range map[string]string{
		"password hash": stored.PasswordHash, "TOTP secret": secret, "identity subject": identity.Subject,
		"passkey credential id": base64.RawURLEncoding.EncodeToString(passkey),
	} {
		if strings.Contains(string(r.Body), secretText) {
			t.Errorf("the detail shows the %s", name)
		}
	}

	// The admin's own detail marks the session the admin asked with.
	mine := testkit.Must(app.Client.GetAdminUserWithResponse(ctx, adminUser.Id, testkit.Bearer(admin)))(t)
	if mine.JSON200 == nil || !slices.ContainsFunc(mine.JSON200.Sessions, func(s client.Session) bool { return s.Current }) {
		t.Errorf("the admin's own detail: %d %s", mine.StatusCode(), mine.Body)
	}
	unknown := testkit.Must(app.Client.GetAdminUserWithResponse(ctx, uuid.New(), testkit.Bearer(admin)))(t)
	wantAnswer(t, "an unknown user", unknown.StatusCode(), unknown.Body, http.StatusNotFound, "not-found")
}
