package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
)

// Config is the JSON file given with -config.
type Config struct {
	// Listen is the TCP address to serve on, e.g. 127.0.0.1:9998.
	Listen string `json:"listen"`
	// Issuer is the issuer URL; default http://<listen>.
	Issuer string `json:"issuer"`
	// AdminToken, when set, enables PUT /testing/users and
	// PUT /testing/behaviour for callers that present it as a bearer token.
	AdminToken string    `json:"admin_token"`
	Clients    []Client  `json:"clients"`
	Users      []User    `json:"users"`
	Behaviour  Behaviour `json:"behaviour"`
}

// Client is a registered relying party (a confidential web application).
type Client struct {
	ID           string   `json:"client_id"`
	Secret       string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
	// AuthMethods are the token endpoint authentication methods the client
	// may use: client_secret_basic and/or client_secret_post (default both).
	AuthMethods []string `json:"auth_methods"`
}

// User is an account that can sign in on the login form.
type User struct {
	Subject       string `json:"subject"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// EmailOnlyInUserinfo keeps email and email_verified out of the ID
	// token: the relying party finds them at the userinfo endpoint only.
	EmailOnlyInUserinfo bool `json:"email_only_in_userinfo"`
	// EmailVerifiedAsString sends email_verified as "true"/"false", as some
	// providers do, instead of a JSON boolean.
	EmailVerifiedAsString bool `json:"email_verified_as_string"`
}

// Behaviour holds the knobs tests turn: the RFC 9207 issuer parameter and
// faults that a relying party must detect.
type Behaviour struct {
	// SendIssParameter adds `iss` to every authorization response (RFC 9207).
	SendIssParameter bool `json:"send_iss_parameter"`
	// IssParameterValue is sent as `iss` instead of the issuer (mix-up).
	IssParameterValue string `json:"iss_parameter_value"`
	// AdvertiseIssParameter sets authorization_response_iss_parameter_supported
	// in the discovery document.
	AdvertiseIssParameter bool `json:"advertise_iss_parameter"`
	// IDTokenNonce replaces the nonce the relying party sent.
	IDTokenNonce string `json:"id_token_nonce"`
	// IDTokenExpired issues ID tokens that expired a minute before.
	IDTokenExpired bool `json:"id_token_expired"`
	// SignWithUnpublishedKey signs ID tokens with a key not in the JWKS.
	SignWithUnpublishedKey bool `json:"sign_with_unpublished_key"`
	// UserinfoSubject replaces `sub` in userinfo answers.
	UserinfoSubject string `json:"userinfo_subject"`
}

const (
	authMethodBasic = "client_secret_basic"
	authMethodPost  = "client_secret_post"
)

// loadConfig reads the file at path (none: an empty configuration) and
// applies the flag overrides.
func loadConfig(path, listen, issuer string) (Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path) //nolint:gosec // the operator names the file
		if err != nil {
			return c, err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return c, fmt.Errorf("%s: %w", path, err)
		}
	}
	if listen != "" {
		c.Listen = listen
	}
	if issuer != "" {
		c.Issuer = issuer
	}
	if c.Issuer == "" {
		c.Issuer = "http://" + c.Listen
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: required"))
	}
	// No path: the endpoints are served at the root.
	if u, err := url.Parse(c.Issuer); err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("issuer %q: an absolute URL without path, query or fragment", c.Issuer))
	}
	ids := map[string]bool{}
	for i := range c.Clients {
		cl := &c.Clients[i]
		if cl.ID == "" || cl.Secret == "" || len(cl.RedirectURIs) == 0 {
			errs = append(errs, fmt.Errorf("clients[%d]: client_id, client_secret and redirect_uris are required", i))
		}
		if ids[cl.ID] {
			errs = append(errs, fmt.Errorf("clients[%d]: client_id %q twice", i, cl.ID))
		}
		ids[cl.ID] = true
		if len(cl.AuthMethods) == 0 {
			cl.AuthMethods = []string{authMethodBasic, authMethodPost}
		}
		for _, m := range cl.AuthMethods {
			if m != authMethodBasic && m != authMethodPost {
				errs = append(errs, fmt.Errorf("clients[%d]: auth method %q: want %s or %s", i, m, authMethodBasic, authMethodPost))
			}
		}
	}
	for i, u := range c.Users {
		if err := u.validate(); err != nil {
			errs = append(errs, fmt.Errorf("users[%d]: %w", i, err))
		}
	}
	subjects, names := map[string]bool{}, map[string]bool{}
	for _, u := range c.Users {
		if subjects[u.Subject] || names[u.Username] {
			errs = append(errs, fmt.Errorf("users: subject %q or username %q twice", u.Subject, u.Username))
		}
		subjects[u.Subject], names[u.Username] = true, true
	}
	return errors.Join(errs...)
}

func (u User) validate() error {
	// The op package packs "tokenID:subject" into access tokens.
	if u.Subject == "" || strings.Contains(u.Subject, ":") {
		return fmt.Errorf("subject %q: required, without ':'", u.Subject)
	}
	if u.Username == "" || u.Password == "" {
		return errors.New("username and password are required")
	}
	return nil
}

// allows reports whether the client may authenticate with method.
func (c Client) allows(method string) bool { return slices.Contains(c.AuthMethods, method) }
