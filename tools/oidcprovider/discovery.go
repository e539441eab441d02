package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// discoveryDocument is op's document with the RFC 9207 field, which the op
// package does not know.
type discoveryDocument struct {
	*oidc.DiscoveryConfiguration
	IssParameterSupported bool `json:"authorization_response_iss_parameter_supported,omitempty"`
}

// discovery serves /.well-known/openid-configuration: what op would answer,
// narrowed to what this provider does (code flow, S256, the clients'
// authentication methods) and with the iss parameter when advertised.
func discovery(p *op.Provider, s *storage) http.Handler {
	return op.NewIssuerInterceptor(p.IssuerFromRequest).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := op.CreateDiscoveryConfig(r.Context(), p, s)
		d.IntrospectionEndpoint, d.EndSessionEndpoint, d.DeviceAuthorizationEndpoint, d.CheckSessionIframe = "", "", "", ""
		d.IntrospectionEndpointAuthMethodsSupported, d.IntrospectionEndpointAuthSigningAlgValuesSupported = nil, nil
		d.ScopesSupported = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail}
		d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
		d.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
		d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode}
		d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
		d.TokenEndpointAuthMethodsSupported = s.authMethods()
		doc := discoveryDocument{DiscoveryConfiguration: d, IssParameterSupported: s.currentBehaviour().AdvertiseIssParameter}
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(doc); err != nil {
			slog.Error("write the discovery document", "error", err)
		}
	})
}

// authMethods are the token endpoint authentication methods of the clients.
func (s *storage) authMethods() []oidc.AuthMethod {
	s.mu.Lock()
	defer s.mu.Unlock()
	var all []oidc.AuthMethod
	for _, c := range s.clients {
		for _, m := range c.AuthMethods {
			if !slices.Contains(all, oidc.AuthMethod(m)) {
				all = append(all, oidc.AuthMethod(m))
			}
		}
	}
	slices.Sort(all)
	return all
}
