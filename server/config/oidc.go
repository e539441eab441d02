package config

import (
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// OIDCProvider is one OpenID Connect provider of AUTHD_OIDC_PROVIDERS, with
// its AUTHD_OIDC_<NAME>_* settings.
type OIDCProvider struct {
	Name         string // as listed: lower-case letters and digits
	DisplayName  string
	Issuer       string
	ClientID     string
	ClientSecret Secret
	Scopes       []string
}

// Secret is a setting no message, log line or dump shows.
type Secret string

const redacted = "xxxxx"

// String hides the secret from %s and %v.
func (Secret) String() string { return redacted }

// GoString hides the secret from %#v.
func (Secret) GoString() string { return `"` + redacted + `"` }

// LogValue hides the secret from slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText hides the secret from encoders.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Reveal is the secret itself, for the request that sends it.
func (s Secret) Reveal() string { return string(s) }

const oidcPrefix = "AUTHD_OIDC_"

// The settings of each provider: AUTHD_OIDC_<NAME>_<setting>.
const (
	oidcIssuer       = "ISSUER"
	oidcClientID     = "CLIENT_ID"
	oidcClientSecret = "CLIENT_SECRET"
	oidcScopes       = "SCOPES"
	oidcDisplayName  = "DISPLAY_NAME"
)

var oidcSettings = []string{oidcIssuer, oidcClientID, oidcClientSecret, oidcScopes, oidcDisplayName}

// DefaultOIDCScopes are the scopes asked when _SCOPES is not set.
const DefaultOIDCScopes = "openid email profile"

var (
	providerName = regexp.MustCompile(`^[a-z0-9]{1,32}$`)
	// scopeToken is RFC 6749's scope-token.
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
)

// oidcVar is the variable of a provider's setting.
func oidcVar(name, setting string) string {
	return oidcPrefix + strings.ToUpper(name) + "_" + setting
}

// oidcProviders reads the settings of every provider listed, and reports
// each problem on its own line. A setting of a provider that is not listed
// is a problem too: a typo must not leave a provider half configured.
func oidcProviders(environ map[string]string, listed []string, development bool) ([]OIDCProvider, []error) {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
	}
	var providers []OIDCProvider
	seen := map[string]bool{}
	for _, raw := range listed {
		name := strings.TrimSpace(raw)
		switch {
		case !providerName.MatchString(name):
			fail("AUTHD_OIDC_PROVIDERS", "%q is not a provider name (1 to 32 lower-case letters and digits)", name)
			continue
		case seen[name]:
			fail("AUTHD_OIDC_PROVIDERS", "%q is listed twice", name)
			continue
		}
		seen[name] = true
		p, perrs := oidcProvider(environ, name, development)
		errs = append(errs, perrs...)
		providers = append(providers, p)
	}
	for _, k := range slices.Sorted(maps.Keys(environ)) {
		rest, ok := strings.CutPrefix(k, oidcPrefix)
		if !ok || k == "AUTHD_OIDC_PROVIDERS" || k == "AUTHD_OIDC_SIGNUP" {
			continue
		}
		upper, setting, _ := strings.Cut(rest, "_")
		switch {
		case !slices.Contains(oidcSettings, setting):
			fail(k, "is not a provider setting: AUTHD_OIDC_<NAME>_ followed by one of %s", strings.Join(oidcSettings, ", "))
		case !seen[strings.ToLower(upper)] || upper != strings.ToUpper(upper):
			fail(k, "names no provider of AUTHD_OIDC_PROVIDERS (%s); add it there or remove the variable", strings.Join(slices.Sorted(maps.Keys(seen)), ", "))
		}
	}
	return providers, errs
}

// oidcProvider reads and checks the settings of the provider name.
func oidcProvider(environ map[string]string, name string, development bool) (OIDCProvider, []error) {
	var errs []error
	fail := func(setting, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", oidcVar(name, setting), fmt.Sprintf(format, args...)))
	}
	get := func(setting string) string { return strings.TrimSpace(environ[oidcVar(name, setting)]) }
	p := OIDCProvider{
		Name: name, DisplayName: get(oidcDisplayName), Issuer: get(oidcIssuer), ClientID: get(oidcClientID),
		ClientSecret: Secret(get(oidcClientSecret)),
	}
	if p.DisplayName == "" {
		p.DisplayName = name
	}
	if len([]rune(p.DisplayName)) > 64 || strings.ContainsFunc(p.DisplayName, unicode.IsControl) {
		fail(oidcDisplayName, "must be 1 to 64 characters without control characters, got %q", p.DisplayName)
	}
	if p.Issuer == "" {
		fail(oidcIssuer, "is required: the provider's issuer URL, like https://accounts.google.com")
	} else if why := badIssuer(p.Issuer, development); why != "" {
		fail(oidcIssuer, "%s, got %q", why, p.Issuer)
	}
	if p.ClientID == "" {
		fail(oidcClientID, "is required: the client id the provider gave authd")
	} else if strings.ContainsFunc(p.ClientID, unicode.IsControl) {
		fail(oidcClientID, "must not hold control characters")
	}
	if p.ClientSecret == "" {
		fail(oidcClientSecret, "is required: the client secret the provider gave authd (never shown)")
	}
	scopes := get(oidcScopes)
	if scopes == "" {
		scopes = DefaultOIDCScopes
	}
	p.Scopes = strings.Fields(scopes)
	for _, s := range p.Scopes {
		if !scopeToken.MatchString(s) {
			fail(oidcScopes, "%q is not a scope (space-separated, printable ASCII without \" or \\)", s)
		}
	}
	if !slices.Contains(p.Scopes, "openid") {
		fail(oidcScopes, "must contain openid (space-separated, like %q), got %q", DefaultOIDCScopes, scopes)
	}
	return p, errs
}

// badIssuer says what is wrong with an issuer URL, or "". https, or http
// on a loopback host or in development; no user, query or fragment (OpenID
// Connect Discovery: the issuer is compared as a string).
func badIssuer(issuer string, development bool) string {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "must be an absolute https URL"
	case u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(issuer, "?#"):
		return "must have no user, query or fragment"
	case u.Scheme == "http" && !development && !loopbackHost(u.Hostname()):
		return "must be https (http only for a loopback host or in development)"
	}
	return ""
}

// badRedirectURL says what is wrong with an application's redirect target,
// or "": an absolute http(s) URL without user or fragment, https unless on
// a loopback host or in development, within the spec's 2048 characters.
func badRedirectURL(target string, development bool) string {
	u, err := url.Parse(target)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return "is not an absolute http(s) URL"
	case u.User != nil || u.Fragment != "" || strings.Contains(target, "#"):
		return "must have no user or fragment"
	case len(target) > 2048:
		return "is longer than 2048 characters (what redirect_to may be)"
	case u.Scheme == "http" && !development && !loopbackHost(u.Hostname()):
		return "must be https (http only for a loopback host or in development)"
	}
	return ""
}

// loopbackHost reports localhost and loopback addresses.
func loopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateOIDC checks the redirect allow-list: every entry well formed,
// and at least one when a provider is configured.
func (c Config) validateOIDC() []error {
	var errs []error
	for _, target := range c.RedirectURLs {
		if why := badRedirectURL(strings.TrimSpace(target), c.Development()); why != "" {
			errs = append(errs, fmt.Errorf("AUTHD_REDIRECT_URLS: %q %s", target, why))
		}
	}
	if len(c.OIDCProviders) > 0 && len(c.RedirectURLs) == 0 {
		errs = append(errs, fmt.Errorf("AUTHD_REDIRECT_URLS: is required with AUTHD_OIDC_PROVIDERS: the application URLs a federated login may return to"))
	}
	return errs
}
