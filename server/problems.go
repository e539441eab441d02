package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/authd/authd/gen/api"
)

// problemTypeBase prefixes every problem type URI; the suffixes are stable API.
const problemTypeBase = "https://authd.dev/problems/"

// problemType is one class of problem (RFC 9457 "type"): its status, type
// suffix and title.
type problemType struct {
	status int
	slug   string
	title  string
}

// The catalogue of problem types.
var (
	typeBadRequest         = problemType{http.StatusBadRequest, "bad-request", "Bad request"}
	typeValidation         = problemType{http.StatusUnprocessableEntity, "validation", "Validation failed"}
	typeTooLarge           = problemType{http.StatusRequestEntityTooLarge, "payload-too-large", "Payload too large"}
	typeBodyTimeout        = problemType{http.StatusRequestTimeout, "request-timeout", "Request timeout"}
	typeUnauthorized       = problemType{http.StatusUnauthorized, "unauthorized", "Unauthorized"}
	typeInvalidCredentials = problemType{http.StatusUnauthorized, "invalid-credentials", "Invalid credentials"}
	typeInvalidRefresh     = problemType{http.StatusUnauthorized, "invalid-refresh-token", "Invalid refresh token"}
	typeWrongPassword      = problemType{http.StatusForbidden, "wrong-password", "Wrong password"}
	typeEmailTaken         = problemType{http.StatusConflict, "email-taken", "Email already registered"}
	typeUnavailable        = problemType{http.StatusServiceUnavailable, "unavailable", "Service unavailable"}
	typeRateLimited        = problemType{http.StatusTooManyRequests, "rate-limited", "Too many requests"}
	typeLoginBackoff       = problemType{http.StatusTooManyRequests, "login-backoff", "Too many failed logins"}
	typeNotFound           = problemType{http.StatusNotFound, "not-found", "Not found"}
	typeInvalidToken       = problemType{http.StatusBadRequest, "invalid-token", "Invalid or expired link"}
	typeNotVerified        = problemType{http.StatusForbidden, "email-not-verified", "Email not verified"}
	typeNotReady           = problemType{http.StatusServiceUnavailable, "not-ready", "Service not ready"}
	typeInternal           = problemType{http.StatusInternalServerError, "internal", "Internal server error"}
	typeInvalidMfaToken    = problemType{http.StatusUnauthorized, "invalid-mfa-token", "Invalid MFA token"}
	typeInvalidMfaCode     = problemType{http.StatusForbidden, "invalid-mfa-code", "Invalid code"}
	typeStepUpRequired     = problemType{http.StatusUnauthorized, "step-up-required", "Step-up required"}
	typeFactorLimit        = problemType{http.StatusConflict, "factor-limit", "Too many factors"}
	typeFactorRequired     = problemType{http.StatusConflict, "factor-required", "No second factor"}
	typeForbidden          = problemType{http.StatusForbidden, "forbidden", "Forbidden"}
	typeMfaRequired        = problemType{http.StatusForbidden, "mfa-required", "Second factor required"}
	typeInsufficientScope  = problemType{http.StatusForbidden, "insufficient-scope", "Insufficient scope"}
	typeLastAdmin          = problemType{http.StatusConflict, "last-admin", "Last admin"}
	typeConflict           = problemType{http.StatusConflict, "conflict", "Conflict"}
	typeLastLoginMethod    = problemType{http.StatusConflict, "last-login-method", "Last way to log in"}
	typeInvalidOidcCode    = problemType{http.StatusUnauthorized, "invalid-oidc-code", "Invalid code"}
	typeIdentityInUse      = problemType{http.StatusConflict, "identity-in-use", "Identity in use"}
	// typeClientClosed is nginx's 499: the client left before the answer, so
	// nobody reads it; it only keeps such requests out of the 5xx figures.
	typeClientClosed = problemType{499, "client-closed-request", "Client closed request"}
)

// problem builds the problem body of type t in the request of ctx.
func problem(ctx context.Context, t problemType, detail string) api.Problem {
	p := api.Problem{
		Type:      problemTypeBase + t.slug,
		Title:     t.title,
		Status:    t.status,
		Detail:    detail,
		RequestId: requestID(ctx),
	}
	if path := infoFrom(ctx).path; path != "" {
		p.Instance = &path
	}
	return p
}

// problemError is an error that already knows its problem response; middleware
// and the authenticator return it, the error handler renders it. Handlers
// return the typed responses below instead.
type problemError struct {
	typ     problemType
	detail  string
	errors  []api.FieldError
	headers map[string]string
	cause   error // for logs only
}

func (e *problemError) Error() string {
	if e.cause != nil {
		return e.typ.slug + ": " + e.cause.Error()
	}
	return e.typ.slug + ": " + e.detail
}

func (e *problemError) Unwrap() error { return e.cause }

// bearerChallenge is the WWW-Authenticate value for a refused bearer token.
func bearerChallenge(tokenSent bool) string {
	if tokenSent {
		return `Bearer realm="authd", error="invalid_token"`
	}
	return `Bearer realm="authd"`
}

// The constructors below build each problem a handler declares in the spec,
// as the generated response its operations share; a handler wraps it in its
// own status type.

// badRequest is the 400 for a request the validator let through but the
// handler cannot read.
func badRequest(ctx context.Context, detail string) api.BadRequestApplicationProblemPlusJSONResponse {
	return api.BadRequestApplicationProblemPlusJSONResponse(problem(ctx, typeBadRequest, detail))
}

// invalidToken is the 400 for a mailed link that is unknown, used or expired.
func invalidToken(ctx context.Context) api.BadRequestApplicationProblemPlusJSONResponse {
	return api.BadRequestApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidToken, "The link is invalid or has expired; ask for a new one."))
}

// invalidCredentials is the 401 of a refused login: unknown address, wrong
// password and inactive account answer alike.
func invalidCredentials(ctx context.Context) api.InvalidCredentialsApplicationProblemPlusJSONResponse {
	return api.InvalidCredentialsApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidCredentials, "The email or password is incorrect."))
}

// invalidRefreshToken is the 401 for a refresh token that is unknown,
// expired, revoked or replayed.
func invalidRefreshToken(ctx context.Context) api.InvalidRefreshTokenApplicationProblemPlusJSONResponse {
	return api.InvalidRefreshTokenApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidRefresh, "The refresh token is not valid."))
}

// sessionEnded is the 401 for an authenticated caller whose session ended
// while the request ran.
func sessionEnded(ctx context.Context) api.UnauthorizedApplicationProblemPlusJSONResponse {
	return api.UnauthorizedApplicationProblemPlusJSONResponse{
		Body:    problem(ctx, typeUnauthorized, "The session has ended."),
		Headers: api.UnauthorizedResponseHeaders{WWWAuthenticate: ptr(bearerChallenge(true))},
	}
}

// wrongPassword is the 403 for a password that is not the account's.
func wrongPassword(ctx context.Context, detail string) api.WrongPasswordApplicationProblemPlusJSONResponse {
	return api.WrongPasswordApplicationProblemPlusJSONResponse(problem(ctx, typeWrongPassword, detail))
}

// emailNotVerified is the 403 of a login to an account whose address is
// not confirmed yet.
func emailNotVerified(ctx context.Context) api.EmailNotVerifiedApplicationProblemPlusJSONResponse {
	return api.EmailNotVerifiedApplicationProblemPlusJSONResponse(problem(ctx, typeNotVerified, "Confirm your email address with the link we sent, or ask for a new one."))
}

// notFound is the 404.
func notFound(ctx context.Context, detail string) api.NotFoundApplicationProblemPlusJSONResponse {
	return api.NotFoundApplicationProblemPlusJSONResponse(problem(ctx, typeNotFound, detail))
}

// emailTaken is the 409 for an address another account has.
func emailTaken(ctx context.Context, detail string) api.ConflictApplicationProblemPlusJSONResponse {
	return api.ConflictApplicationProblemPlusJSONResponse(problem(ctx, typeEmailTaken, detail))
}

// weakPassword is the 422 for a password that breaks the policy.
func weakPassword(ctx context.Context, msgs []string, field string) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(policyProblem(ctx, msgs, field))
}

// loginBackoff is the 429 for a password check the login backoff refused.
func loginBackoff(ctx context.Context, r *refusal) api.TooManyRequestsApplicationProblemPlusJSONResponse {
	secs := ceilSeconds(r.wait.Seconds())
	return api.TooManyRequestsApplicationProblemPlusJSONResponse{
		Body: problem(ctx, typeLoginBackoff, fmt.Sprintf("Too many failed logins; retry in %d seconds.", secs)),
		Headers: api.TooManyRequestsResponseHeaders{
			RetryAfter: &secs,
			RateLimit:  ptr(fmt.Sprintf("%q;r=0;t=%d", r.policy, secs)),
		},
	}
}

// notReady is the 503 body of a readiness probe with failing checks.
func notReady(ctx context.Context, failing []string) api.Problem {
	return problem(ctx, typeNotReady, "failing checks: "+strings.Join(failing, ", "))
}

// invalidMfaToken is the 401 for a login's second step whose challenge is
// unknown, expired, used or dead after too many wrong codes.
func invalidMfaToken(ctx context.Context) api.InvalidMfaTokenApplicationProblemPlusJSONResponse {
	return api.InvalidMfaTokenApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidMfaToken, "The second-factor challenge is not valid; log in again."))
}

// invalidMfaCode is the 403 for a wrong, replayed or stale TOTP code or an
// unknown or used recovery code.
func invalidMfaCode(ctx context.Context) api.Problem {
	return problem(ctx, typeInvalidMfaCode, "The code is not valid.")
}

// factorLimit is the 409 for an enrolment beyond the most active factors.
func factorLimit(ctx context.Context) api.FactorConflictApplicationProblemPlusJSONResponse {
	return api.FactorConflictApplicationProblemPlusJSONResponse(problem(ctx, typeFactorLimit, fmt.Sprintf("An account has at most %d active factors; remove one first.", maxActiveFactors)))
}

// factorRequired is the 409 for recovery codes asked of an account without
// an active factor.
func factorRequired(ctx context.Context) api.FactorConflictApplicationProblemPlusJSONResponse {
	return api.FactorConflictApplicationProblemPlusJSONResponse(problem(ctx, typeFactorRequired, "The account has no active second factor, so it has no recovery codes."))
}

// passkeyLimit is the 409 for a passkey beyond the most an account keeps.
func passkeyLimit(ctx context.Context) api.FactorConflictApplicationProblemPlusJSONResponse {
	return api.FactorConflictApplicationProblemPlusJSONResponse(problem(ctx, typeFactorLimit, fmt.Sprintf("An account has at most %d passkeys; remove one first.", maxPasskeys)))
}

// lastLoginMethod is the 409 for removing the account's last way to log in
// (its password, passkeys and identities are all that remain).
func lastLoginMethod(ctx context.Context) api.LastLoginMethodApplicationProblemPlusJSONResponse {
	return api.LastLoginMethodApplicationProblemPlusJSONResponse(problem(ctx, typeLastLoginMethod,
		"This is the account's last way to log in; add another first (a passkey, a provider, or a password through the reset)."))
}

// unreadablePasskey is the 400 for a credential that is not a WebAuthn
// response at all.
func unreadablePasskey(ctx context.Context) api.BadRequestApplicationProblemPlusJSONResponse {
	return badRequest(ctx, "The credential is not a WebAuthn registration response.")
}

// voidPasskeyChallenge is the 400 for a passkey response whose challenge is
// unknown, used, expired or another session's.
func voidPasskeyChallenge(ctx context.Context) api.BadRequestApplicationProblemPlusJSONResponse {
	return badRequest(ctx, "The passkey challenge is unknown, used or expired; ask for new options.")
}

// refusedPasskey is the 422 for a registration response that does not
// verify, or a credential the service has already, with a short reason.
func refusedPasskey(ctx context.Context, reason string) api.UnprocessableEntityApplicationProblemPlusJSONResponse {
	return api.UnprocessableEntityApplicationProblemPlusJSONResponse(policyProblem(ctx, []string{reason}, "credential"))
}

// stepUpRequired is the 401 of a sensitive operation whose caller
// authenticated too long ago or too weakly, with the RFC 9470 challenge.
func stepUpRequired(maxAge time.Duration, needAAL2 bool) *problemError {
	secs := int(maxAge.Seconds())
	challenge := fmt.Sprintf(`Bearer realm="authd", error="insufficient_user_authentication", error_description="authenticate again", max_age=%d`, secs)
	detail := fmt.Sprintf("This operation needs an authentication within the last %d seconds; authenticate again at /auth/step-up.", secs)
	if needAAL2 {
		challenge += `, acr_values="aal2"`
		detail = fmt.Sprintf("This operation needs a second factor within the last %d seconds; authenticate again at /auth/step-up with a code.", secs)
	}
	return &problemError{typ: typeStepUpRequired, detail: detail, headers: map[string]string{"WWW-Authenticate": challenge}}
}

// invalidOidcCode is the 401 for a federated login's one-time code that is
// unknown, used, expired, another session's or not proved by the verifier.
func invalidOidcCode(ctx context.Context) api.InvalidOidcCodeApplicationProblemPlusJSONResponse {
	return api.InvalidOidcCodeApplicationProblemPlusJSONResponse(problem(ctx, typeInvalidOidcCode, "The code is not valid; start the login again."))
}

// identityInUse is the 409 for linking an identity another account has.
func identityInUse(ctx context.Context) api.IdentityConflictApplicationProblemPlusJSONResponse {
	return api.IdentityConflictApplicationProblemPlusJSONResponse(problem(ctx, typeIdentityInUse, "This identity is linked to another account."))
}

// identityLimit is the 409 for an identity beyond the most an account links.
func identityLimit(ctx context.Context) api.IdentityConflictApplicationProblemPlusJSONResponse {
	return api.IdentityConflictApplicationProblemPlusJSONResponse(problem(ctx, typeFactorLimit, fmt.Sprintf("An account links at most %d identities; unlink one first.", maxIdentitiesPerUser)))
}
