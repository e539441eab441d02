package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/authd/authd/server/federation"
)

// The lifetimes of a federated login's steps.
const (
	oidcStateTTL = 10 * time.Minute // authorize to callback: the user logs in at the provider
	oidcLinkTTL  = 10 * time.Minute // a link started, to its authorize
	oidcCodeTTL  = time.Minute      // callback to the application's exchange
)

// oidcCookieName is the cookie that binds a login to the browser that
// started it; oidcCookiePath keeps it to the flow's own paths.
const (
	oidcCookieName = "authd_oidc"
	oidcCookiePath = "/auth/oidc/"
)

// maxIdentitiesPerUser caps the identities an account links.
const maxIdentitiesPerUser = 10

// flowError is what a failed callback tells the application on
// redirect_to (error=...), and the outcome it is counted as.
type flowError string

// The callback's error codes (see the spec's oidcCallback).
const (
	flowAccessDenied        flowError = "access_denied"
	flowProviderError       flowError = "provider_error"
	flowInvalidState        flowError = "invalid_state"
	flowIssuerMismatch      flowError = "issuer_mismatch"
	flowExchangeFailed      flowError = "exchange_failed"
	flowInvalidIDToken      flowError = "invalid_id_token"
	flowEmailRequired       flowError = "email_required"
	flowAccountExists       flowError = "account_exists"
	flowSignupDisabled      flowError = "signup_disabled"
	flowAccountDisabled     flowError = "account_disabled"
	flowIdentityInUse       flowError = "identity_in_use"
	flowProviderUnavailable flowError = "provider_unavailable"
)

var allFlowErrors = []flowError{flowAccessDenied, flowProviderError, flowInvalidState, flowIssuerMismatch, flowExchangeFailed,
	flowInvalidIDToken, flowEmailRequired, flowAccountExists, flowSignupDisabled, flowAccountDisabled, flowIdentityInUse, flowProviderUnavailable}

// redirectAllowed reports whether target is one of AUTHD_REDIRECT_URLS,
// character for character: no prefix, case or normalisation games.
func (s *Server) redirectAllowed(target string) bool {
	return slices.Contains(s.oidc.RedirectURLs, target)
}

// withParams is target (an allow-listed URL) with params added to its query.
func withParams(target string, params url.Values) string {
	u, err := url.Parse(target)
	if err != nil {
		return target // checked at start: never happens
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// pkceS256 is RFC 7636's S256 challenge of verifier.
func pkceS256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// pkceMatches reports, in constant time, whether verifier proves challenge.
func pkceMatches(verifier, challenge string) bool {
	return subtle.ConstantTimeCompare([]byte(pkceS256(verifier)), []byte(challenge)) == 1
}

// oidcCookie is the Set-Cookie value that binds a login to the browser
// (value) or, with maxAge 0, removes it. Secure when authd is served over
// https; Lax, since the provider sends the browser back with a top-level GET.
func (s *Server) oidcCookie(value string, maxAge int) string {
	c := &http.Cookie{ //nolint:gosec // G124: Secure whenever authd is served over https; a development http URL would never get it back
		Name: oidcCookieName, Value: value, Path: oidcCookiePath, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: strings.HasPrefix(s.mail.PublicURL, "https://"),
	}
	if maxAge > 0 {
		c.MaxAge = maxAge
	} else {
		c.MaxAge = -1 // Max-Age=0: remove it now
	}
	return c.String()
}

// logFlowFailure logs why a federated login stopped: the provider, the code
// sent to the application and, shortened, what caused it (never shown to
// the browser).
func (s *Server) logFlowFailure(ctx context.Context, provider string, code flowError, cause string) {
	attrs := []any{"provider", provider, "error_code", string(code)}
	if cause != "" {
		attrs = append(attrs, "cause", federation.Truncate(cause))
	}
	s.log.WarnContext(ctx, "federated login failed", attrs...)
}
