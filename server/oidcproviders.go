package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/federation"
)

// OIDCOptions configure federated login.
type OIDCOptions struct {
	// Providers are the configured providers (none when federation is off).
	Providers *federation.Registry
	// RedirectURLs are the application targets a login may return to,
	// compared exactly.
	RedirectURLs []string
	// Signup lets a first login with an unknown address create an account.
	Signup bool
}

// NewProviders is the registry of cfg's providers (opts: the log, the clock
// ID tokens are checked against, the retry pace; a client with a timeout
// unless set). Nothing is discovered until DiscoverProviders runs.
func NewProviders(cfg config.Config, opts federation.Options) *federation.Registry {
	providers := make([]federation.Provider, 0, len(cfg.OIDC))
	for _, p := range cfg.OIDC {
		providers = append(providers, federation.Provider{
			Name: p.Name, DisplayName: p.DisplayName, Issuer: p.Issuer, ClientID: p.ClientID,
			ClientSecret: p.ClientSecret.Reveal(), Scopes: p.Scopes, RedirectURL: callbackURL(cfg.PublicURL, p.Name),
		})
	}
	return federation.New(providers, opts)
}

// callbackURL is where provider sends the browser back: the URL to
// register there.
func callbackURL(publicURL, provider string) string {
	return strings.TrimRight(publicURL, "/") + "/auth/oidc/" + provider + "/callback"
}

// DiscoverProviders reads the providers' discovery documents, retrying those
// that do not answer, until all are discovered or ctx ends (RunJobs runs it).
func (s *Server) DiscoverProviders(ctx context.Context) { s.oidc.Providers.Run(ctx) }

// ListProviders implements api.StrictServerInterface.
func (s *Server) ListProviders(context.Context, api.ListProvidersRequestObject) (api.ListProvidersResponseObject, error) {
	list := api.ProviderList{Providers: []api.Provider{}}
	for _, p := range s.oidc.Providers.List() {
		list.Providers = append(list.Providers, api.Provider{
			Name: p.Name, DisplayName: p.DisplayName, AuthorizePath: "/auth/oidc/" + p.Name + "/authorize", Available: p.Available,
		})
	}
	return api.ListProviders200JSONResponse{Body: list, Headers: api.ListProviders200ResponseHeaders{CacheControl: ptr("no-store")}}, nil
}

// providersCheck reports the providers still waiting for their discovery:
// degraded, never failing, since one provider's outage must not take authd
// (and its password logins) out of rotation.
func (s *Server) providersCheck() (api.Check, bool) {
	list := s.oidc.Providers.List()
	if len(list) == 0 {
		return api.Check{}, false
	}
	var waiting []string
	for _, p := range list {
		if !p.Available {
			waiting = append(waiting, p.Name)
		}
	}
	detail := fmt.Sprintf("%d of %d discovered", len(list)-len(waiting), len(list))
	if len(waiting) > 0 {
		detail += "; waiting: " + strings.Join(waiting, ", ")
		return api.Check{Status: api.CheckStatusDegraded, Detail: &detail}, true
	}
	return api.Check{Status: api.CheckStatusOk, Detail: &detail}, true
}

// The outcomes of authd_federated_logins_total besides the callback's
// error codes (flowError).
const (
	fedSuccess     = "success"
	fedMFARequired = "mfa_required"
	fedInvalidCode = "invalid_code"
	fedUnverified  = "unverified"
)

// countFederated counts a federated login's outcome once the request has
// succeeded.
func (s *Server) countFederated(ctx context.Context, provider, outcome string) {
	countOnSuccess(ctx, func() { s.metrics.FederatedLogins.WithLabelValues(provider, outcome).Inc() })
}

// registerFederatedOutcomes makes every provider's outcomes exist at 0.
func (s *Server) registerFederatedOutcomes() {
	outcomes := []string{fedSuccess, fedMFARequired, fedInvalidCode, fedUnverified}
	for _, e := range allFlowErrors {
		outcomes = append(outcomes, string(e))
	}
	for _, p := range s.oidc.Providers.List() {
		for _, o := range outcomes {
			s.metrics.FederatedLogins.WithLabelValues(p.Name, o)
		}
	}
}
