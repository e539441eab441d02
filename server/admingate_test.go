package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authd/authd/server/testkit"
)

// The admin gate, end to end on one admin operation: who is let in.
func TestAdminGate_WhoIsLetIn(t *testing.T) {
	app := testkit.NewApp(t)
	ctx := context.Background()
	list := func(tok string) int {
		t.Helper()
		r, err := app.Client.ListAdminUsersWithResponse(ctx, nil, testkit.Bearer(tok))
		if err != nil {
			t.Fatal(err)
		}
		return r.StatusCode()
	}
	_, admin, _ := app.NewAdmin(t)
	_, user := app.NewUser(t)
	if got := list(user.AccessToken); got != http.StatusForbidden {
		t.Errorf("non-admin: %d, want 403", got)
	}
	if got := list(admin); got == http.StatusForbidden || got == http.StatusUnauthorized {
		t.Errorf("admin with aal 2: %d, want admitted", got)
	}
	if got := list(app.NewCredential(t, "users:write")); got != http.StatusForbidden {
		t.Errorf("credential without users:read: %d, want 403", got)
	}
	if got := list(app.NewCredential(t, "users:read")); got == http.StatusForbidden || got == http.StatusUnauthorized {
		t.Errorf("credential with users:read: %d, want admitted", got)
	}
	if got := list("authd_sc_00000000000000000000000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"); got != http.StatusUnauthorized {
		t.Errorf("unknown credential: %d, want 401", got)
	}
}
