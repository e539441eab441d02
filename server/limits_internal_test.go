package server

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
)

// TestChecksFor_BudgetsKeyedByAnAddressArePrivate: every budget keyed by the
// email address a request names is private (RateLimit never shows it), and
// every budget of the caller's own is not.
func TestChecksFor_BudgetsKeyedByAnAddressArePrivate(t *testing.T) {
	t.Parallel()
	const email = "Someone.Else@Example.com"
	key := emailKey(email)
	ctx := withInfo(context.Background(), &requestInfo{principal: &principal{user: db.User{ID: uuid.New()}}})
	s := &Server{}
	addr := email
	for name, req := range map[string]any{
		"register":            api.RegisterRequestObject{Body: &api.RegisterRequest{Email: email}},
		"login":               api.LoginRequestObject{Body: &api.LoginRequest{Email: email}},
		"forgot password":     api.ForgotPasswordRequestObject{Body: &api.EmailRequest{Email: email}},
		"resend verification": api.ResendVerificationRequestObject{Body: &api.EmailRequest{Email: email}},
		"update me":           api.UpdateMeRequestObject{Body: &api.UpdateUserRequest{Email: &addr}},
		"delete me":           api.DeleteMeRequestObject{},
		"refresh":             api.RefreshTokenRequestObject{},
		"verify email":        api.VerifyEmailRequestObject{},
	} {
		checks := s.checksFor(ctx, req, "198.51.100.7")
		if len(checks) == 0 {
			t.Errorf("%s: no budgets", name)
		}
		for _, chk := range checks {
			if byAddress := strings.Contains(chk.key, key); chk.private != byAddress {
				t.Errorf("%s: budget %q (%s) private = %v", name, chk.policy, chk.key, chk.private)
			}
		}
	}
}
