package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/url"

	"github.com/google/uuid"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/federation"
	"github.com/authd/authd/server/token"
)

// flowFailure is why a callback sends the browser back with an error: the
// code, what caused it (logged, never sent) and the account it concerns,
// when one is known, whose federated_login_failed event it becomes.
type flowFailure struct {
	code    flowError
	cause   string
	account *uuid.UUID
}

// OidcCallback implements api.StrictServerInterface. The state is spent
// first: without a live one there is no trusted redirect_to (400). After
// that every check that fails sends the browser to redirect_to with an
// error code, and the binding cookie is removed whatever happens.
func (s *Server) OidcCallback(ctx context.Context, req api.OidcCallbackRequestObject) (api.OidcCallbackResponseObject, error) {
	name := string(req.Provider)
	if !s.oidc.Providers.Configured(name) {
		return api.OidcCallback404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such provider; GET /auth/providers lists them.")}, nil
	}
	unknown := api.OidcCallback400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, "The login is unknown, used or expired; start it again.")}
	if req.Params.State == nil {
		return unknown, nil
	}
	row, err := s.db.Queries().TakeOidcLogin(ctx, db.TakeOidcLoginParams{StateHash: token.HashOpaque(*req.Params.State), Now: s.now()})
	if errors.Is(err, database.ErrNotFound) || (err == nil && row.Provider != name) {
		return unknown, nil
	}
	if err != nil {
		return nil, err
	}
	params, fail, err := s.callback(ctx, name, row, req.Params)
	if err != nil {
		return nil, err
	}
	if fail != nil {
		if fail.account == nil {
			fail.account = row.LinkUserID // a link concerns its account, whatever failed
		}
		s.flowFailed(ctx, name, *fail)
		params = url.Values{"error": {string(fail.code)}}
	}
	location := withParams(row.RedirectTo, params)
	return api.OidcCallback302Response{Headers: api.OidcCallback302ResponseHeaders{
		Location: &location, SetCookie: ptr(s.oidcCookie("", 0)), CacheControl: ptr("no-store"),
	}}, nil
}

// callback checks the provider's answer to the login of row and logs in
// or links: the parameters for redirect_to, or why not.
func (s *Server) callback(ctx context.Context, name string, row db.OidcLogin, p api.OidcCallbackParams) (url.Values, *flowFailure, error) {
	claims, fail := s.providerClaims(ctx, name, row, p)
	if fail != nil {
		return nil, fail, nil
	}
	if row.LinkUserID != nil {
		return s.linkCallback(ctx, name, row, claims)
	}
	return s.loginCallback(ctx, name, row, claims)
}

// providerClaims runs the callback's checks in order (browser, provider
// error, iss, exchange, ID token, nonce) and returns the identity the
// provider asserts, its address canonical or "" when authd cannot use it.
func (s *Server) providerClaims(ctx context.Context, name string, row db.OidcLogin, p api.OidcCallbackParams) (federation.Claims, *flowFailure) {
	failed := func(code flowError, cause string) (federation.Claims, *flowFailure) {
		return federation.Claims{}, &flowFailure{code: code, cause: cause}
	}
	if p.AuthdOidc == nil || subtle.ConstantTimeCompare(token.HashOpaque(*p.AuthdOidc), row.BrowserHash) != 1 {
		return failed(flowInvalidState, "the callback came without the cookie of the browser that started the login")
	}
	if p.Error != nil {
		code := flowProviderError
		if *p.Error == "access_denied" {
			code = flowAccessDenied
		}
		cause := "the provider answered " + *p.Error
		if p.ErrorDescription != nil {
			cause += ": " + *p.ErrorDescription
		}
		return failed(code, cause)
	}
	live := s.oidc.Providers.Live(name)
	if live == nil {
		return failed(flowProviderUnavailable, "discovery has not succeeded yet")
	}
	// RFC 9207: an answer naming another issuer, or none from a provider
	// that always names itself, is not this provider's (mix-up).
	if (p.Iss != nil && *p.Iss != live.Issuer()) || (p.Iss == nil && live.IssParameterRequired()) {
		return failed(flowIssuerMismatch, "the authorization response's iss is not the provider's issuer")
	}
	if p.Code == nil || *p.Code == "" {
		return failed(flowProviderError, "the provider answered with neither a code nor an error")
	}
	tok, rawIDToken, err := live.Exchange(ctx, *p.Code, row.PkceVerifier)
	if err != nil {
		return failed(flowExchangeFailed, err.Error())
	}
	claims, err := live.VerifyIDToken(ctx, rawIDToken)
	if err != nil {
		return failed(flowInvalidIDToken, err.Error())
	}
	if subtle.ConstantTimeCompare(token.HashOpaque(claims.Nonce), row.NonceHash) != 1 {
		return failed(flowInvalidIDToken, "the ID token's nonce is not the one this login sent")
	}
	if claims.Email == "" {
		info, err := live.UserInfo(ctx, tok)
		if err != nil {
			return failed(flowProviderError, "userinfo: "+err.Error())
		}
		if info.Subject != claims.Subject {
			return failed(flowInvalidIDToken, "userinfo's sub is not the ID token's")
		}
		claims.Email, claims.EmailVerified = info.Email, info.EmailVerified
	}
	if claims.Email != "" {
		addr, err := canonicalEmail(claims.Email)
		if err != nil {
			s.log.InfoContext(ctx, "the provider's address is not one authd accepts; the login goes on without it", "provider", name, "reason", err.Error())
			addr = ""
		}
		claims.Email = addr
		claims.EmailVerified = claims.EmailVerified && addr != ""
	}
	return claims, nil
}

// flowFailed logs, counts and, for a known account, records a failure.
func (s *Server) flowFailed(ctx context.Context, name string, f flowFailure) {
	s.logFlowFailure(ctx, name, f.code, f.cause)
	s.countFederated(ctx, name, string(f.code))
	if f.account == nil {
		return
	}
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		return s.recordSecurityEvent(ctx, q, *f.account, evFederatedLoginFailed, nil)
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not record a failed federated login", "error", err.Error())
	}
}

// issueCode stores the one-time code the application exchanges (purpose
// login or link) for the identity of claims, in q's transaction.
func (s *Server) issueCode(ctx context.Context, q *db.Queries, purpose string, row db.OidcLogin, userID uuid.UUID, name string, c federation.Claims) (string, error) {
	code := token.NewOpaque()
	return code, q.CreateOidcCode(ctx, db.CreateOidcCodeParams{
		CodeHash: token.HashOpaque(code), Purpose: purpose, UserID: userID, SessionID: row.LinkSessionID, AppChallenge: row.AppChallenge,
		Provider: name, Subject: c.Subject, Email: c.Email, EmailVerified: c.EmailVerified, Now: s.now(), ExpiresAt: s.now().Add(oidcCodeTTL),
	})
}

// linkCallback ends a link: a code for POST /users/me/identities, unless
// the identity logs in to another account. No account is created or matched
// by address here: the account is the one that started the link.
func (s *Server) linkCallback(ctx context.Context, name string, row db.OidcLogin, c federation.Claims) (url.Values, *flowFailure, error) {
	var code string
	var fail *flowFailure
	err := s.db.InTx(ctx, func(q *db.Queries) error {
		ident, err := q.GetIdentityBySubject(ctx, db.GetIdentityBySubjectParams{Provider: name, Subject: c.Subject})
		switch {
		case err == nil && ident.UserID != *row.LinkUserID:
			fail = &flowFailure{code: flowIdentityInUse, cause: "the identity logs in to another account"}
			return nil
		case err != nil && !errors.Is(err, database.ErrNotFound):
			return err
		}
		code, err = s.issueCode(ctx, q, codeLink, row, *row.LinkUserID, name, c)
		return err
	})
	if err != nil || fail != nil {
		return nil, fail, err
	}
	return url.Values{"linked": {"1"}, "code": {code}}, nil, nil
}

// The purposes of a one-time code (oidc_codes.purpose).
const (
	codeLogin = "login"
	codeLink  = "link"
)
