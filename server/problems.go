package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

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
