package testkit

import (
	"context"
	"crypto/rand"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/gen/db"
)

// GrantRole gives a user a role, as `authd admin grant` does for admin.
func (a *App) GrantRole(t T, userID uuid.UUID, role string) {
	t.Helper()
	ctx := context.Background()
	u, err := a.Deps.DB.Queries().GetUserByID(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(u.Roles, role) {
		return
	}
	if _, err := a.Deps.DB.Queries().SetUserRoles(ctx, db.SetUserRolesParams{ID: userID, Roles: append(u.Roles, role), Now: a.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
}

// NewAdmin registers a user with the admin role and an authenticator app
// and returns it, an access token of assurance level 2 (a step-up with the
// app's code) and the app's secret.
func (a *App) NewAdmin(t T) (client.User, string, string) {
	t.Helper()
	u, pair := a.NewUser(t)
	a.GrantRole(t, u.Id, "admin")
	_, secret, _ := a.EnrolTOTP(t, pair.AccessToken)
	code := a.TOTP(t, secret, 0)
	up, err := a.Client.StepUpWithResponse(context.Background(), client.StepUpRequest{Code: &code}, Bearer(pair.AccessToken))
	if err != nil {
		t.Fatal(err)
	}
	if up.JSON200 == nil {
		t.Fatalf("admin step-up: status %d: %s", up.StatusCode(), up.Body)
	}
	return u, up.JSON200.AccessToken, secret
}

// NewCredential creates a service credential with scopes that never
// expires and returns its token.
func (a *App) NewCredential(t T, scopes ...string) string {
	t.Helper()
	_, tok, err := a.Server.NewServiceCredential(context.Background(), "test-"+rand.Text()[:10], scopes, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
