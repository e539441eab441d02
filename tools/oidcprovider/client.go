package main

import (
	"net/url"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// opClient presents a configured Client to the op package: a confidential
// web application using the authorization code flow.
type opClient struct {
	Client
	idTokenLifetime time.Duration
}

func (c opClient) GetID() string                       { return c.ID }
func (c opClient) RedirectURIs() []string              { return c.Client.RedirectURIs }
func (c opClient) PostLogoutRedirectURIs() []string    { return nil }
func (c opClient) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c opClient) GrantTypes() []oidc.GrantType        { return []oidc.GrantType{oidc.GrantTypeCode} }
func (c opClient) LoginURL(id string) string           { return "/login?id=" + url.QueryEscape(id) }
func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c opClient) IDTokenLifetime() time.Duration      { return c.idTokenLifetime }
func (c opClient) DevMode() bool                       { return false }
func (c opClient) IsScopeAllowed(string) bool          { return false }
func (c opClient) ClockSkew() time.Duration            { return 0 }
func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// IDTokenUserinfoClaimsAssertion puts the claims of the requested scopes
// into the ID token; SetUserinfoFromRequest leaves a user's email out when
// the user is configured to show it at userinfo only.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// AuthMethod is the method the op package checks the client against. It
// accepts client_secret_basic and client_secret_post alike for secret
// clients; tokenAuthMethods enforces the configured ones.
func (c opClient) AuthMethod() oidc.AuthMethod {
	if c.allows(authMethodBasic) {
		return oidc.AuthMethodBasic
	}
	return oidc.AuthMethodPost
}
