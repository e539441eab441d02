package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// withProvider is env plus a complete provider "google" and a redirect URL.
func withProvider(env map[string]string) map[string]string {
	out := map[string]string{
		"AUTHD_OIDC_PROVIDERS":            "google",
		"AUTHD_OIDC_GOOGLE_ISSUER":        "https://accounts.google.com",
		"AUTHD_OIDC_GOOGLE_CLIENT_ID":     "1234-abc.apps.googleusercontent.com",
		"AUTHD_OIDC_GOOGLE_CLIENT_SECRET": "S3CRET-client",
		"AUTHD_REDIRECT_URLS":             "https://app.example.com/auth/done",
	}
	for k, v := range env {
		if v == "" {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

func TestLoad_OIDCProvidersAreReadWithTheirDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(withProvider(map[string]string{
		"AUTHD_OIDC_PROVIDERS":          "google, corp",
		"AUTHD_OIDC_CORP_ISSUER":        "http://127.0.0.1:9999/oidc",
		"AUTHD_OIDC_CORP_CLIENT_ID":     "authd",
		"AUTHD_OIDC_CORP_CLIENT_SECRET": "corp-secret",
		"AUTHD_OIDC_CORP_SCOPES":        "openid email groups",
		"AUTHD_OIDC_CORP_DISPLAY_NAME":  "Corp SSO",
		"AUTHD_REDIRECT_URLS":           "https://app.example.com/auth/done, http://localhost:3000/cb",
	})))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.OIDC) != 2 {
		t.Fatalf("providers = %+v", cfg.OIDC)
	}
	g, c := cfg.OIDC[0], cfg.OIDC[1]
	if g.Name != "google" || g.DisplayName != "google" || g.Issuer != "https://accounts.google.com" ||
		g.ClientID != "1234-abc.apps.googleusercontent.com" || g.ClientSecret.Reveal() != "S3CRET-client" ||
		!slices.Equal(g.Scopes, []string{"openid", "email", "profile"}) {
		t.Errorf("google = %+v, want the defaults for scopes and display name", g)
	}
	if c.Name != "corp" || c.DisplayName != "Corp SSO" || c.ClientSecret.Reveal() != "corp-secret" ||
		!slices.Equal(c.Scopes, []string{"openid", "email", "groups"}) {
		t.Errorf("corp = %+v", c)
	}
	if !slices.Equal(cfg.RedirectURLs, []string{"https://app.example.com/auth/done", "http://localhost:3000/cb"}) {
		t.Errorf("redirect URLs = %q (want them trimmed, in order)", cfg.RedirectURLs)
	}
	if !cfg.OIDCSignup {
		t.Error("AUTHD_OIDC_SIGNUP defaults to false, want true")
	}
}

// TestLoad_OIDCSettingsAreChecked: each bad setting is one line naming its
// variable, in the report of every problem at once.
func TestLoad_OIDCSettingsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		prod bool
		want string // the variable the line names
		says string
	}{
		{"upper-case name", map[string]string{"AUTHD_OIDC_PROVIDERS": "Google"}, false, "AUTHD_OIDC_PROVIDERS", "lower-case"},
		{"underscore in name", map[string]string{"AUTHD_OIDC_PROVIDERS": "google,my_corp"}, false, "AUTHD_OIDC_PROVIDERS", `"my_corp"`},
		{"listed twice", map[string]string{"AUTHD_OIDC_PROVIDERS": "google,google"}, false, "AUTHD_OIDC_PROVIDERS", "twice"},
		{"no issuer", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": ""}, false, "AUTHD_OIDC_GOOGLE_ISSUER", "required"},
		{"relative issuer", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "accounts.google.com"}, false, "AUTHD_OIDC_GOOGLE_ISSUER", "absolute"},
		{"issuer with a query", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "https://idp.example.com/?tenant=1"}, false, "AUTHD_OIDC_GOOGLE_ISSUER", "query"},
		{"issuer with a fragment", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "https://idp.example.com/#x"}, false, "AUTHD_OIDC_GOOGLE_ISSUER", "fragment"},
		{"issuer with a user", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "https://u@idp.example.com"}, false, "AUTHD_OIDC_GOOGLE_ISSUER", "user"},
		{"http issuer in production", map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "http://idp.example.com"}, true, "AUTHD_OIDC_GOOGLE_ISSUER", "https"},
		{"no client id", map[string]string{"AUTHD_OIDC_GOOGLE_CLIENT_ID": ""}, false, "AUTHD_OIDC_GOOGLE_CLIENT_ID", "required"},
		{"no client secret", map[string]string{"AUTHD_OIDC_GOOGLE_CLIENT_SECRET": ""}, false, "AUTHD_OIDC_GOOGLE_CLIENT_SECRET", "required"},
		{"scopes without openid", map[string]string{"AUTHD_OIDC_GOOGLE_SCOPES": "email profile"}, false, "AUTHD_OIDC_GOOGLE_SCOPES", "openid"},
		{"a scope with a quote", map[string]string{"AUTHD_OIDC_GOOGLE_SCOPES": `openid "email"`}, false, "AUTHD_OIDC_GOOGLE_SCOPES", "not a scope"},
		{"long display name", map[string]string{"AUTHD_OIDC_GOOGLE_DISPLAY_NAME": strings.Repeat("G", 65)}, false, "AUTHD_OIDC_GOOGLE_DISPLAY_NAME", "1 to 64"},
		{"a provider not listed", map[string]string{"AUTHD_OIDC_CORP_ISSUER": "https://corp.example.com"}, false, "AUTHD_OIDC_CORP_ISSUER", "names no provider"},
		{"a setting that does not exist", map[string]string{"AUTHD_OIDC_GOOGLE_SECRET": "x"}, false, "AUTHD_OIDC_GOOGLE_SECRET", "not a provider setting"},
		{"no redirect URL", map[string]string{"AUTHD_REDIRECT_URLS": ""}, false, "AUTHD_REDIRECT_URLS", "required"},
		{"relative redirect URL", map[string]string{"AUTHD_REDIRECT_URLS": "/auth/done"}, false, "AUTHD_REDIRECT_URLS", "absolute"},
		{"redirect URL with a fragment", map[string]string{"AUTHD_REDIRECT_URLS": "https://app.example.com/done#x"}, false, "AUTHD_REDIRECT_URLS", "fragment"},
		{"redirect URL with a user", map[string]string{"AUTHD_REDIRECT_URLS": "https://a@app.example.com/done"}, false, "AUTHD_REDIRECT_URLS", "user"},
		{"javascript redirect URL", map[string]string{"AUTHD_REDIRECT_URLS": "javascript:alert(1)"}, false, "AUTHD_REDIRECT_URLS", "absolute"},
		{"http redirect URL in production", map[string]string{"AUTHD_REDIRECT_URLS": "http://app.example.com/done"}, true, "AUTHD_REDIRECT_URLS", "https"},
	} {
		env := dev(withProvider(tc.env))
		if tc.prod {
			env = production(t, withProvider(tc.env))
		}
		_, err := Load(env)
		if line := onlyLineFor(t, err, tc.want); !strings.Contains(line, tc.says) {
			t.Errorf("%s: %q does not say %q", tc.name, line, tc.says)
		}
		if strings.Contains(err.Error(), "S3CRET") {
			t.Errorf("%s: the client secret is shown:\n%v", tc.name, err)
		}
	}
}

// TestLoad_OIDCLoopbackMayBeHTTP: a provider or an application on the
// machine itself needs no TLS, in production too; nothing else does.
func TestLoad_OIDCLoopbackMayBeHTTP(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"localhost:9000", "127.0.0.1:9000", "[::1]:9000", "sso.localhost"} {
		env := production(t, withProvider(map[string]string{
			"AUTHD_OIDC_GOOGLE_ISSUER": "http://" + host,
			"AUTHD_REDIRECT_URLS":      "http://" + host + "/done",
		}))
		if _, err := Load(env); err != nil {
			t.Errorf("http on %s in production: %v", host, err)
		}
	}
	env := dev(withProvider(map[string]string{"AUTHD_OIDC_GOOGLE_ISSUER": "http://idp.internal", "AUTHD_REDIRECT_URLS": "http://app.internal/done"}))
	if _, err := Load(env); err != nil {
		t.Errorf("http in development: %v", err)
	}
}

func TestLoad_OIDCSignupCanBeSwitchedOff(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(withProvider(map[string]string{"AUTHD_OIDC_SIGNUP": "false"})))
	if err != nil || cfg.OIDCSignup {
		t.Errorf("AUTHD_OIDC_SIGNUP=false: signup %v, %v", cfg.OIDCSignup, err)
	}
}

// TestLoad_NoProvidersNeedsNoRedirectURL: federation is off by default
// and asks for nothing.
func TestLoad_NoProvidersNeedsNoRedirectURL(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(nil))
	if err != nil || len(cfg.OIDC) != 0 || len(cfg.RedirectURLs) != 0 {
		t.Errorf("defaults: providers %v, redirect URLs %v, %v", cfg.OIDC, cfg.RedirectURLs, err)
	}
}

// TestOIDCClientSecret_IsNeverShown: the secret is not in a dump of the
// configuration in any form, in a log line or in JSON; Reveal alone gives it.
func TestOIDCClientSecret_IsNeverShown(t *testing.T) {
	t.Parallel()
	cfg, err := Load(dev(withProvider(nil)))
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "cfg", cfg, "provider", cfg.OIDC[0], "secret", cfg.OIDC[0].ClientSecret)
	asJSON, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for form, text := range map[string]string{
		"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
		"String": cfg.OIDC[0].ClientSecret.String(), "%q": fmt.Sprintf("%q", cfg.OIDC[0].ClientSecret),
		"slog": logged.String(), "JSON": string(asJSON),
	} {
		if strings.Contains(text, "S3CRET") {
			t.Errorf("%s shows the client secret: %s", form, text)
		}
	}
	if cfg.OIDC[0].ClientSecret.Reveal() != "S3CRET-client" {
		t.Error("Reveal does not give the secret")
	}
}
