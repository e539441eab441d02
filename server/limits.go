package server

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/ratelimit"
)

// limitCheck is one budget a request spends from.
type limitCheck struct {
	policy string // name in the RateLimit headers
	key    string
	limit  ratelimit.Limit
	// private: what is left of the budget could tell the caller about other
	// people's requests, so RateLimit never reports it.
	private bool
}

// Every budget is made by one of three constructors, each with its own key
// shape; which of them made it decides whether RateLimit may report it.

// ipCheck is a flow's budget of the client's IP: the caller's own.
func ipCheck(policy, flow, ip string, limit ratelimit.Limit) limitCheck {
	return limitCheck{policy: policy, key: flow + ":ip:" + ip, limit: limit}
}

// userCheck is a flow's budget of the authenticated user: the caller's own.
func userCheck(policy, flow, userID string, limit ratelimit.Limit) limitCheck {
	return limitCheck{policy: policy, key: flow + ":user:" + userID, limit: limit}
}

// addressCheck is a flow's budget of the client and an email address, which
// may be someone else's: it is private.
func addressCheck(policy, flow, ip, email string, limit ratelimit.Limit) limitCheck {
	return limitCheck{policy: policy, key: flow + ":ip-email:" + ip + ":" + emailKey(email), limit: limit, private: true}
}

// checksFor lists the budgets an operation spends, keyed by client IP and,
// where the body names an account, by its normalised email.
func (s *Server) checksFor(ctx context.Context, req any, ip string) []limitCheck {
	l := s.limits
	switch r := req.(type) {
	case api.RegisterRequestObject:
		// The address's budget is per client: strangers registering it
		// cannot spend its owner's. Mail to it is throttled per mailbox
		// all the same (mayMail).
		return []limitCheck{
			addressCheck("register-address", "register", ip, r.Body.Email, l.MailAddress),
			ipCheck("register", "register", ip, l.Register),
		}
	case api.UpdateMeRequestObject:
		// Guessing current_password with a stolen access token is capped,
		// and an email change mails its new address like any mail flow.
		checks := currentPasswordChecks(ctx, l)
		if r.Body != nil && r.Body.Email != nil {
			checks = append(checks, mailChecks(l, ip, *r.Body.Email)...)
		}
		return checks
	case api.DeleteMeRequestObject:
		return currentPasswordChecks(ctx, l)
	case api.ExportMeRequestObject:
		// The export reads every row of the account: the user's own
		// budget caps how often, as a login's caps logins.
		if me := caller(ctx); me != nil {
			return []limitCheck{userCheck("export", "export", me.user.ID.String(), l.Login)}
		}
		return nil
	case api.StepUpRequestObject, api.StepUpPasskeyOptionsRequestObject, api.StartTotpEnrollmentRequestObject, api.DeleteFactorRequestObject, api.RegenerateRecoveryCodesRequestObject,
		api.PasskeyRegistrationOptionsRequestObject, api.DeletePasskeyRequestObject, api.DeleteIdentityRequestObject:
		// A stolen access token guessing the password or a code at step-up
		// or at a factor change spends the same budget as guessing current_password.
		return currentPasswordChecks(ctx, l)
	case api.LoginRequestObject:
		return []limitCheck{
			addressCheck("login", "login", ip, r.Body.Email, l.Login),
			ipCheck("login-ip", "login", ip, l.LoginIP),
		}
	case api.VerifyMfaRequestObject, api.EnrollMfaTotpRequestObject, api.MfaPasskeyOptionsRequestObject:
		// A login's second step spends the client's login budget: a
		// login and its codes are one flow. The account's own count is the
		// login backoff, which VerifyMfa applies.
		return []limitCheck{ipCheck("login-ip", "login", ip, l.LoginIP)}
	case api.PasskeyLoginOptionsRequestObject, api.PasskeyLoginRequestObject:
		// A passwordless login names no account: the client's login
		// budget is its limit (each challenge is a stored row, and an
		// assertion cannot be guessed).
		return []limitCheck{ipCheck("login-ip", "login", ip, l.LoginIP)}
	case api.OidcAuthorizeRequestObject, api.OidcCallbackRequestObject, api.OidcTokenRequestObject, api.CompleteIdentityLinkRequestObject:
		// A federated login is a login: the client's login budget. It also
		// bounds the states (rows) one client can leave behind at authorize,
		// each of which expires in minutes and is pruned.
		return []limitCheck{ipCheck("login-ip", "login", ip, l.LoginIP)}
	case api.StartIdentityLinkRequestObject:
		// It checks current_password: the caller's budget for guessing it.
		return currentPasswordChecks(ctx, l)
	case api.RefreshTokenRequestObject:
		return []limitCheck{ipCheck("refresh", "refresh", ip, l.Refresh)}
	case api.ResendVerificationRequestObject:
		return mailChecks(l, ip, r.Body.Email)
	case api.ForgotPasswordRequestObject:
		return mailChecks(l, ip, r.Body.Email)
	case api.VerifyEmailRequestObject, api.ResetPasswordRequestObject, api.ConfirmEmailChangeRequestObject:
		return []limitCheck{ipCheck("token", "token", ip, l.Token)}
	}
	return nil
}

// currentPasswordChecks is the caller's budget for guessing its password
// with an access token, shared by every endpoint that checks it.
func currentPasswordChecks(ctx context.Context, l Limits) []limitCheck {
	if me := caller(ctx); me != nil {
		return []limitCheck{userCheck("update-me", "update-me", me.user.ID.String(), l.Login)}
	}
	return nil
}

// mailChecks are the budgets of an endpoint that mails an address. The
// per-address one is per client too: strangers must not be able to spend
// the owner's; mayMail caps what reaches the mailbox whoever asks.
func mailChecks(l Limits, ip, email string) []limitCheck {
	return []limitCheck{
		addressCheck("mail-address", "mail", ip, email, l.MailAddress),
		ipCheck("mail-ip", "mail", ip, l.MailIP),
	}
}

// limitRequests is a strict middleware: it spends the request's budgets in
// one atomic step, reports them in RateLimit headers and refuses with 429
// when one is empty. Requests that arrive together cannot all pass, and a
// refused request is charged to none of its budgets.
func (s *Server) limitRequests(next api.StrictHandlerFunc, _ string) api.StrictHandlerFunc {
	return func(c echo.Context, req any) (any, error) {
		if !s.limits.Enabled {
			return next(c, req)
		}
		ctx := c.Request().Context()
		checks := s.checksFor(ctx, req, clientip.Key(infoFrom(ctx).ip))
		if len(checks) == 0 {
			return next(c, req)
		}
		spend := make([]ratelimit.Check, len(checks))
		policies := make([]string, len(checks))
		for i, chk := range checks {
			spend[i] = ratelimit.Check{Key: chk.key, Limit: chk.limit}
			policies[i] = fmt.Sprintf("%q;q=%d;w=%d", chk.policy, chk.limit.Rate, int(chk.limit.Period.Seconds()))
		}
		h := c.Response().Header()
		h.Set("RateLimit-Policy", strings.Join(policies, ", "))
		results, err := s.limits.Store.AllowAll(ctx, spend)
		if err != nil {
			return nil, err
		}
		if i := longestWait(results); i >= 0 {
			s.countThrottled(req)
			h.Set("RateLimit", fmt.Sprintf("%q;r=0;t=%d", checks[i].policy, ceilSeconds(results[i].ResetAfter.Seconds())))
			wait := ceilSeconds(results[i].RetryAfter.Seconds())
			return nil, tooManyRequests(typeRateLimited, fmt.Sprintf("Too many requests; retry in %d seconds.", wait), wait)
		}
		if i := tightest(checks, results); i >= 0 {
			h.Set("RateLimit", fmt.Sprintf("%q;r=%d;t=%d", checks[i].policy, results[i].Remaining, ceilSeconds(results[i].ResetAfter.Seconds())))
		}
		return next(c, req)
	}
}

// longestWait is the index of the refusing budget that refills last (the
// request can pass only then), or -1 when every budget allowed it.
func longestWait(results []ratelimit.Result) int {
	worst := -1
	for i, r := range results {
		if !r.Allowed && (worst < 0 || r.RetryAfter > results[worst].RetryAfter) {
			worst = i
		}
	}
	return worst
}

// tightest is the index of the reportable budget with the least left, or -1.
func tightest(checks []limitCheck, results []ratelimit.Result) int {
	best := -1
	for i, chk := range checks {
		if !chk.private && (best < 0 || results[i].Remaining < results[best].Remaining) {
			best = i
		}
	}
	return best
}

// countThrottled counts a refused login, refresh or second factor in its metric.
func (s *Server) countThrottled(req any) {
	switch r := req.(type) {
	case api.LoginRequestObject, api.PasskeyLoginRequestObject:
		s.metrics.Logins.WithLabelValues("throttled").Inc()
	case api.RefreshTokenRequestObject:
		s.metrics.Refreshes.WithLabelValues("throttled").Inc()
	case api.VerifyMfaRequestObject:
		method := methodTOTP
		switch {
		case r.Body != nil && r.Body.RecoveryCode != nil:
			method = methodRecoveryCode
		case r.Body != nil && r.Body.Passkey != nil:
			method = methodPasskey
		}
		s.metrics.MFA.WithLabelValues(method, "throttled").Inc()
	}
}

// tooManyRequests is the 429 problem with its Retry-After.
func tooManyRequests(t problemType, detail string, retryAfter int) *problemError {
	return &problemError{typ: t, detail: detail, headers: map[string]string{"Retry-After": strconv.Itoa(retryAfter)}}
}

func ceilSeconds(s float64) int { return max(1, int(math.Ceil(s))) }
