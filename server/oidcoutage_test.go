package server_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

// TestFederatedLogin_ProviderDownAtStartAndBack: authd starts while the
// provider does not answer; it is ready (the check is degraded, not
// failing), lists the provider unavailable and sends a login back with
// provider_unavailable. Once the provider answers, discovery retried in the
// background finds it and logins work, without a restart.
func TestFederatedLogin_ProviderDownAtStartAndBack(t *testing.T) {
	t.Parallel()
	f := newFed(t, fedSetup{idpDown: true})
	check := func(want client.CheckStatus, detail string) {
		t.Helper()
		r := f.app.DetailedReadiness(t)
		c, ok := r.Checks["oidc_providers"]
		if r.Status != http.StatusOK || !ok || c.Status != want || c.Detail == nil || *c.Detail != detail {
			t.Errorf("readiness %d, oidc_providers %+v (detail %v), want ready and %s %q", r.Status, c, deref(c.Detail), want, detail)
		}
	}
	available := func() bool {
		t.Helper()
		resp := testkit.Must(f.app.Client.ListProvidersWithResponse(context.Background()))(t)
		return resp.JSON200 != nil && len(resp.JSON200.Providers) == 1 && resp.JSON200.Providers[0].Available
	}

	check(client.CheckStatusDegraded, "0 of 1 discovered; waiting: corp")
	if available() {
		t.Error("an undiscovered provider is listed available")
	}
	l := f.browser().Open(authorizeURL(fedRedirect, newPKCE()), fedRedirect)
	if l.Redirect == nil {
		t.Fatalf("authorize while the provider is down: %s", l)
	}
	wantError(t, l.Redirect.Query(), "provider_unavailable")
	if resp := testkit.Must(f.app.Client.GetReadinessWithResponse(context.Background()))(t); resp.StatusCode() != http.StatusOK {
		t.Errorf("public /readiness %d while a provider is down, want 200", resp.StatusCode())
	}

	f.idp.Start()
	<-f.discovered
	check(client.CheckStatusOk, "1 of 1 discovered")
	if !available() {
		t.Error("the discovered provider is listed unavailable")
	}
	f.logIn(f.idpUser(testkit.UniqueEmail(), true))
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
