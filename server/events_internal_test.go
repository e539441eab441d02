package server

import (
	"slices"
	"testing"

	"github.com/authd/authd"
)

// TestEventKinds_AreTheSpecsList: the kinds authd records are exactly the
// ones the spec lists for Event.kind, so a client reading the list knows
// every kind it can meet, and a kind the spec announces has its constant.
func TestEventKinds_AreTheSpecsList(t *testing.T) {
	t.Parallel()
	recorded := []securityEvent{
		evRegistered, evEmailVerified, evLoginSucceeded, evLoginFailed, evLogout, evSessionRevoked,
		evRefreshReuse, evPasswordChange, evPasswordReset, evEmailChanged, evDeactivated,
		evFactorAdded, evFactorRemoved, evCodesRenewed, evRecoveryUsed, evMFAFailed, evStepUp,
		evPasskeyAdded, evPasskeyRemoved, evPasskeyUsed, evPasskeyCloneSuspected,
		evIdentityLinked, evIdentityUnlinked, evFederatedLogin, evFederatedLoginFailed,
		evAdminUserCreated, evAdminUserUpdated, evAdminSessionsRevoke, evAdminFactorRemoved, evRoleGranted, evRoleRevoked,
	}
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	listed, ok := spec.Components.Schemas["Event"].Value.Properties["kind"].Value.Extensions["x-extensible-enum"].([]any)
	if !ok {
		t.Fatal("Event.kind has no x-extensible-enum list")
	}
	var want, got []string
	for _, k := range listed {
		want = append(want, k.(string))
	}
	for _, k := range recorded {
		got = append(got, string(k))
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("recorded kinds %v, the spec lists %v", got, want)
	}
}
