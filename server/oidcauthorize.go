package server

import (
	"context"
	"errors"
	"net/url"

	"github.com/google/uuid"
	"golang.org/x/oauth2"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/token"
)

// flowStart is where a login or a link goes back to, with the
// application's PKCE challenge, and, for a link, whose it is.
type flowStart struct {
	redirectTo, appChallenge string
	linkUser, linkSession    *uuid.UUID
}

// OidcAuthorize implements api.StrictServerInterface: it stores a fresh
// state (with the nonce, authd's PKCE verifier and the browser's cookie, all
// but the verifier as SHA-256) and sends the browser to the provider. The
// per-IP login budget (limitRequests) bounds how many states one client
// can leave behind; each expires after oidcStateTTL and is pruned.
func (s *Server) OidcAuthorize(ctx context.Context, req api.OidcAuthorizeRequestObject) (api.OidcAuthorizeResponseObject, error) {
	name := string(req.Provider)
	if !s.oidc.Providers.Configured(name) {
		return api.OidcAuthorize404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "No such provider; GET /auth/providers lists them.")}, nil
	}
	start, bad, err := s.flowStart(ctx, name, req.Params)
	if err != nil {
		return nil, err
	}
	if bad != "" {
		return api.OidcAuthorize400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, bad)}, nil
	}
	live := s.oidc.Providers.Live(name)
	if live == nil {
		s.logFlowFailure(ctx, name, flowProviderUnavailable, "discovery has not succeeded yet")
		s.countFederated(ctx, name, string(flowProviderUnavailable))
		return authorizeRedirect(withParams(start.redirectTo, url.Values{"error": {string(flowProviderUnavailable)}}), ""), nil
	}
	state, nonce, browser, verifier := token.NewOpaque(), token.NewOpaque(), token.NewOpaque(), oauth2.GenerateVerifier()
	err = s.db.Queries().CreateOidcLogin(ctx, db.CreateOidcLoginParams{
		StateHash: token.HashOpaque(state), BrowserHash: token.HashOpaque(browser), Provider: name, NonceHash: token.HashOpaque(nonce),
		PkceVerifier: verifier, RedirectTo: start.redirectTo, AppChallenge: start.appChallenge,
		LinkUserID: start.linkUser, LinkSessionID: start.linkSession, Now: s.now(), ExpiresAt: s.now().Add(oidcStateTTL),
	})
	if err != nil {
		return nil, err
	}
	return authorizeRedirect(live.AuthCodeURL(state, nonce, verifier), s.oidcCookie(browser, int(oidcStateTTL.Seconds()))), nil
}

// flowStart reads where the flow returns to: from a link token (alone), or
// from redirect_to (on the allow-list, exactly) and the application's S256
// challenge. A request that is neither is the 400's detail.
func (s *Server) flowStart(ctx context.Context, provider string, p api.OidcAuthorizeParams) (flowStart, string, error) {
	if p.Link != nil {
		if p.RedirectTo != nil || p.CodeChallenge != nil || p.CodeChallengeMethod != nil {
			return flowStart{}, "A link comes alone: its redirect_to and code_challenge were given when it started.", nil
		}
		link, err := s.db.Queries().TakeOidcLink(ctx, db.TakeOidcLinkParams{TokenHash: token.HashOpaque(*p.Link), Provider: provider, Now: s.now()})
		if errors.Is(err, database.ErrNotFound) {
			return flowStart{}, "The link is unknown, used or expired; start it again from the account.", nil
		}
		if err != nil {
			return flowStart{}, "", err
		}
		return flowStart{redirectTo: link.RedirectTo, appChallenge: link.AppChallenge, linkUser: &link.UserID, linkSession: &link.SessionID}, "", nil
	}
	switch {
	case p.RedirectTo == nil || !s.redirectAllowed(*p.RedirectTo):
		return flowStart{}, "redirect_to must be one of the application URLs authd is configured with (AUTHD_REDIRECT_URLS), exactly.", nil
	case p.CodeChallenge == nil || p.CodeChallengeMethod == nil || *p.CodeChallengeMethod != api.OidcAuthorizeParamsCodeChallengeMethodS256:
		return flowStart{}, "Send code_challenge (the S256 challenge of the application's PKCE verifier) and code_challenge_method=S256.", nil
	}
	return flowStart{redirectTo: *p.RedirectTo, appChallenge: *p.CodeChallenge}, "", nil
}

// authorizeRedirect is the 302 to location, setting cookie when given.
func authorizeRedirect(location, cookie string) api.OidcAuthorize302Response {
	h := api.OidcAuthorize302ResponseHeaders{Location: &location, CacheControl: ptr("no-store")}
	if cookie != "" {
		h.SetCookie = &cookie
	}
	return api.OidcAuthorize302Response{Headers: h}
}
