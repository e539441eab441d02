package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Live is a discovered provider: what a login asks of it.
type Live struct {
	name     string
	issuer   string
	oauth    oauth2.Config
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	opts     Options
	// issParameterRequired: the discovery document says the provider puts
	// iss on its authorization responses (RFC 9207), so one without it is
	// not the provider's.
	issParameterRequired bool
}

// discover reads p's discovery document (its issuer must be p.Issuer,
// exactly) and prepares the provider's calls.
func discover(ctx context.Context, p Provider, opts Options) (*Live, error) {
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, opts.Client), p.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		IssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery document: %w", err)
	}
	endpoint := provider.Endpoint()
	if endpoint.AuthURL == "" || endpoint.TokenURL == "" {
		return nil, errors.New("discovery document: no authorization or token endpoint")
	}
	return &Live{
		name: p.Name, issuer: p.Issuer, provider: provider, opts: opts, issParameterRequired: meta.IssParameterSupported,
		oauth: oauth2.Config{
			ClientID: p.ClientID, ClientSecret: p.ClientSecret, Endpoint: endpoint, RedirectURL: p.RedirectURL, Scopes: p.Scopes,
		},
		// The key set is fetched with opts.Client (NewProvider's) and
		// refreshed when a token names a key it does not have.
		verifier: provider.Verifier(&oidc.Config{ClientID: p.ClientID, Now: opts.Now}),
	}, nil
}

// Issuer is the provider's issuer, as configured and discovered.
func (l *Live) Issuer() string { return l.issuer }

// IssParameterRequired reports whether an authorization response must
// carry iss (the provider announced RFC 9207 support).
func (l *Live) IssParameterRequired() bool { return l.issParameterRequired }

// AuthCodeURL is where the browser logs in: the authorization code flow with
// state, nonce and the S256 challenge of verifier.
func (l *Live) AuthCodeURL(state, nonce, verifier string) string {
	return l.oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
}

// Exchange trades the authorization code, with its PKCE verifier, for the
// provider's tokens and returns the raw ID token.
func (l *Live) Exchange(ctx context.Context, code, verifier string) (*oauth2.Token, string, error) {
	tok, err := l.oauth.Exchange(oidc.ClientContext(ctx, l.opts.Client), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, "", err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return tok, "", errors.New("the token response has no id_token")
	}
	return tok, raw, nil
}

// Claims are what a login takes from an ID token (or from userinfo).
type Claims struct {
	Subject, Nonce string
	Email          string
	EmailVerified  bool
}

// VerifyIDToken checks the ID token's signature, iss, aud (authd's client
// id) and exp, and returns its claims; the nonce is the caller's to check.
func (l *Live) VerifyIDToken(ctx context.Context, raw string) (Claims, error) {
	idt, err := l.verifier.Verify(oidc.ClientContext(ctx, l.opts.Client), raw)
	if err != nil {
		return Claims{}, err
	}
	var extra emailClaims
	if err := idt.Claims(&extra); err != nil {
		return Claims{}, fmt.Errorf("ID token claims: %w", err)
	}
	if idt.Subject == "" {
		return Claims{}, errors.New("the ID token has no sub")
	}
	if err := authorizedParty(idt.Audience, extra.AuthorizedParty, l.oauth.ClientID); err != nil {
		return Claims{}, err
	}
	return Claims{Subject: idt.Subject, Nonce: idt.Nonce, Email: extra.Email, EmailVerified: bool(extra.EmailVerified)}, nil
}

// UserInfo asks the provider's userinfo endpoint for the address, with the
// access token of tok. Its subject must be the ID token's (OpenID Connect
// Core 5.3.2): the caller checks it.
func (l *Live) UserInfo(ctx context.Context, tok *oauth2.Token) (Claims, error) {
	if l.provider.UserInfoEndpoint() == "" {
		return Claims{}, errors.New("the provider has no userinfo endpoint")
	}
	info, err := l.provider.UserInfo(oidc.ClientContext(ctx, l.opts.Client), oauth2.StaticTokenSource(tok))
	if err != nil {
		return Claims{}, err
	}
	return Claims{Subject: info.Subject, Email: info.Email, EmailVerified: info.EmailVerified}, nil
}

// emailClaims are the claims of an ID token go-oidc leaves to its caller:
// the address, and azp.
type emailClaims struct {
	Email           string   `json:"email"`
	EmailVerified   flexBool `json:"email_verified"`
	AuthorizedParty string   `json:"azp"`
}

// authorizedParty checks azp (OpenID Connect Core 3.1.3.7): a token meant
// for several audiences must name authd's client as the party it was
// issued to, and a token naming another party is not authd's.
func authorizedParty(aud []string, azp, clientID string) error {
	switch {
	case azp != "" && azp != clientID:
		return fmt.Errorf("the ID token was issued to %q, not to authd", azp)
	case len(aud) > 1 && azp == "":
		return errors.New("the ID token has several audiences and no azp")
	}
	return nil
}

// flexBool reads a boolean claim sent as true/false or as the strings
// "true"/"false" (some providers do); anything else is false.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*b = flexBool(v)
	case string:
		*b = v == "true"
	default:
		*b = false
	}
	return nil
}
