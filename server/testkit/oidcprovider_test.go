package testkit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/authd/authd/server/testkit"
)

// These tests drive tools/oidcprovider as a relying party would, with
// go-oidc and x/oauth2 (what authd uses), independently of authd.

const (
	appRedirect = "http://127.0.0.1:1/app/callback" // never requested: the stop prefix
	appSecret   = "app-secret"
)

var alice = testkit.OIDCUser{Subject: "alice-1", Username: "alice", Password: "alice-pw", Email: "alice@example.com", EmailVerified: true}

func appClient(methods ...string) testkit.OIDCClient {
	return testkit.OIDCClient{ClientID: "app", ClientSecret: appSecret, RedirectURIs: []string{appRedirect}, AuthMethods: methods}
}

// oidcApp is one application's view of the provider: discovery done,
// and the secrets of one authorization request.
type oidcApp struct {
	provider          *oidc.Provider
	conf              oauth2.Config
	state, nonce, pkv string
}

func newOIDCApp(t *testing.T, issuer string) *oidcApp {
	t.Helper()
	p, err := oidc.NewProvider(context.Background(), issuer)
	if err != nil {
		t.Fatal(err)
	}
	return &oidcApp{
		provider: p,
		conf: oauth2.Config{ClientID: "app", ClientSecret: appSecret, Endpoint: p.Endpoint(),
			RedirectURL: appRedirect, Scopes: []string{oidc.ScopeOpenID, "email", "profile"}},
		state: oauth2.GenerateVerifier(), nonce: oauth2.GenerateVerifier(), pkv: oauth2.GenerateVerifier(),
	}
}

func (rp *oidcApp) authorizeURL() string {
	return rp.conf.AuthCodeURL(rp.state, oidc.Nonce(rp.nonce), oauth2.S256ChallengeOption(rp.pkv))
}

// signIn runs the browser through the provider and returns the code.
func (rp *oidcApp) signIn(t *testing.T, u testkit.OIDCUser) string {
	t.Helper()
	final := testkit.NewBrowser(t).LoginFlow(t, rp.authorizeURL(), appRedirect, u.Username, u.Password)
	q := final.Query()
	if q.Get("state") != rp.state || q.Get("code") == "" {
		t.Fatalf("want the code and our state, got %s", final)
	}
	return q.Get("code")
}

func (rp *oidcApp) exchange(t *testing.T, code string) *oauth2.Token {
	t.Helper()
	tok, err := rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(rp.pkv))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (rp *oidcApp) verify(tok *oauth2.Token) (*oidc.IDToken, error) {
	raw, _ := tok.Extra("id_token").(string)
	return rp.provider.Verifier(&oidc.Config{ClientID: "app"}).Verify(context.Background(), raw)
}

func claims(t *testing.T, from interface{ Claims(any) error }) map[string]any {
	t.Helper()
	var m map[string]any
	if err := from.Claims(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestOIDCProvider_CodeFlowWithPKCEGivesAVerifiedIDToken(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	rp := newOIDCApp(t, p.Issuer())
	var doc map[string]any
	if err := rp.provider.Claims(&doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc["authorization_response_iss_parameter_supported"]; ok {
		t.Errorf("iss parameter advertised by default: %v", doc)
	}
	if m, _ := doc["code_challenge_methods_supported"].([]any); !slices.Equal(m, []any{"S256"}) {
		t.Errorf("code_challenge_methods_supported = %v, want [S256]", m)
	}

	final := testkit.NewBrowser(t).LoginFlow(t, rp.authorizeURL(), appRedirect, alice.Username, alice.Password)
	if final.Query().Has("iss") {
		t.Errorf("iss sent by default: %s", final)
	}
	code := final.Query().Get("code")
	if _, err := rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("a wrong PKCE verifier was accepted")
	}
	if _, err := rp.conf.Exchange(context.Background(), code); err == nil {
		t.Fatal("an exchange without the PKCE verifier was accepted")
	}
	tok := rp.exchange(t, code)
	idt, err := rp.verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if idt.Subject != alice.Subject || idt.Nonce != rp.nonce || idt.Issuer != p.Issuer() {
		t.Errorf("ID token sub %q nonce %q iss %q", idt.Subject, idt.Nonce, idt.Issuer)
	}
	c := claims(t, idt)
	if c["email"] != alice.Email || c["email_verified"] != true {
		t.Errorf("ID token email claims: %v", c)
	}
	if _, err := rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(rp.pkv)); err == nil {
		t.Error("the code was exchanged twice")
	}
}

func TestOIDCProvider_EmailOnlyInUserinfo(t *testing.T) {
	t.Parallel()
	bob := testkit.OIDCUser{Subject: "bob-2", Username: "bob", Password: "bob-pw", Email: "bob@example.com", EmailOnlyInUserinfo: true}
	carol := testkit.OIDCUser{Subject: "carol-3", Username: "carol", Password: "carol-pw", Email: "carol@example.com",
		EmailVerified: true, EmailOnlyInUserinfo: true, EmailVerifiedAsString: true}
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{bob, carol}})
	for _, tc := range []struct {
		user         testkit.OIDCUser
		wantVerified any
	}{
		{bob, false},    // stated, not left out
		{carol, "true"}, // as a string, as some providers do
	} {
		rp := newOIDCApp(t, p.Issuer())
		tok := rp.exchange(t, rp.signIn(t, tc.user))
		idt, err := rp.verify(tok)
		if err != nil {
			t.Fatal(err)
		}
		c := claims(t, idt)
		if _, ok := c["email"]; ok {
			t.Errorf("%s: email in the ID token: %v", tc.user.Username, c)
		}
		if _, ok := c["email_verified"]; ok {
			t.Errorf("%s: email_verified in the ID token: %v", tc.user.Username, c)
		}
		info, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		u := claims(t, info)
		if info.Subject != tc.user.Subject || u["email"] != tc.user.Email || u["email_verified"] != tc.wantVerified {
			t.Errorf("%s: userinfo %v, want email_verified %#v", tc.user.Username, u, tc.wantVerified)
		}
	}
}

func TestOIDCProvider_WrongPasswordGetsNoCode(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	rp := newOIDCApp(t, p.Issuer())
	b := testkit.NewBrowser(t)
	if l := b.Open(rp.authorizeURL(), appRedirect); !l.LoginForm {
		t.Fatalf("no login form: %s", l)
	}
	l := b.Login(alice.Username, "not-her-password")
	if l.Redirect != nil || !l.LoginForm || !strings.Contains(l.Body, "Wrong username or password") {
		t.Fatalf("a wrong password: %s", l)
	}
	l = b.Login("nobody", alice.Password)
	if l.Redirect != nil || !l.LoginForm {
		t.Fatalf("an unknown user: %s", l)
	}
	// The same request still completes with the right password.
	l = b.Login(alice.Username, alice.Password)
	if l.Redirect == nil || l.Redirect.Query().Get("code") == "" {
		t.Fatalf("the right password after wrong ones: %s", l)
	}
}

func TestOIDCProvider_CancelAnswersAccessDenied(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	rp := newOIDCApp(t, p.Issuer())
	b := testkit.NewBrowser(t)
	b.Open(rp.authorizeURL(), appRedirect)
	l := b.Cancel()
	if l.Redirect == nil || l.Redirect.Query().Get("error") != "access_denied" || l.Redirect.Query().Get("state") != rp.state {
		t.Fatalf("cancel: %s", l)
	}
}

func TestOIDCProvider_RefusesRequestsWithoutPKCES256(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	rp := newOIDCApp(t, p.Issuer())
	for name, opts := range map[string][]oauth2.AuthCodeOption{
		"none":  nil,
		"plain": {oauth2.SetAuthURLParam("code_challenge", rp.pkv), oauth2.SetAuthURLParam("code_challenge_method", "plain")},
	} {
		l := testkit.NewBrowser(t).Open(rp.conf.AuthCodeURL(rp.state, opts...), appRedirect)
		if l.Redirect == nil || l.Redirect.Query().Get("error") != "invalid_request" {
			t.Errorf("PKCE %s: %s", name, l)
		}
	}
}

func TestOIDCProvider_IssParameter(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice},
		Behaviour: testkit.OIDCBehaviour{SendIssParameter: true, AdvertiseIssParameter: true}})
	rp := newOIDCApp(t, p.Issuer())
	var doc struct {
		Supported bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := rp.provider.Claims(&doc); err != nil || !doc.Supported {
		t.Errorf("discovery does not advertise the iss parameter (%v)", err)
	}
	final := testkit.NewBrowser(t).LoginFlow(t, rp.authorizeURL(), appRedirect, alice.Username, alice.Password)
	if final.Query().Get("iss") != p.Issuer() || final.Query().Get("code") == "" {
		t.Errorf("code response: %s", final)
	}
	b := testkit.NewBrowser(t)
	b.Open(rp.authorizeURL(), appRedirect)
	if l := b.Cancel(); l.Redirect == nil || l.Redirect.Query().Get("iss") != p.Issuer() {
		t.Errorf("error response: %s", l)
	}

	p.SetBehaviour(testkit.OIDCBehaviour{SendIssParameter: true, IssParameterValue: "https://attacker.example"})
	final = testkit.NewBrowser(t).LoginFlow(t, rp.authorizeURL(), appRedirect, alice.Username, alice.Password)
	if got := final.Query()["iss"]; !slices.Equal(got, []string{"https://attacker.example"}) {
		t.Errorf("mix-up: iss = %v", got)
	}
}

func TestOIDCProvider_ClientAuthMethodIsEnforced(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient("client_secret_post")}, Users: []testkit.OIDCUser{alice}})
	rp := newOIDCApp(t, p.Issuer())
	var doc struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := rp.provider.Claims(&doc); err != nil || !slices.Equal(doc.Methods, []string{"client_secret_post"}) {
		t.Errorf("token_endpoint_auth_methods_supported = %v (%v)", doc.Methods, err)
	}
	code := rp.signIn(t, alice)
	rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader
	_, err := rp.conf.Exchange(context.Background(), code, oauth2.VerifierOption(rp.pkv))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" {
		t.Fatalf("client_secret_basic for a post-only client: %v", err)
	}
	rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	rp.exchange(t, code)
}

func TestOIDCProvider_Faults(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	for _, tc := range []struct {
		name  string
		fault testkit.OIDCBehaviour
		check func(t *testing.T, rp *oidcApp, tok *oauth2.Token)
	}{
		{"nonce", testkit.OIDCBehaviour{IDTokenNonce: "not-yours"}, func(t *testing.T, rp *oidcApp, tok *oauth2.Token) {
			if idt, err := rp.verify(tok); err != nil || idt.Nonce != "not-yours" {
				t.Errorf("nonce fault: %v", err)
			}
		}},
		{"expired", testkit.OIDCBehaviour{IDTokenExpired: true}, wantInvalid("expired")},
		{"unpublished key", testkit.OIDCBehaviour{SignWithUnpublishedKey: true}, wantInvalid("signature")},
		{"userinfo subject", testkit.OIDCBehaviour{UserinfoSubject: "someone-else"}, func(t *testing.T, rp *oidcApp, tok *oauth2.Token) {
			info, err := rp.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
			if err != nil || info.Subject != "someone-else" {
				t.Errorf("userinfo subject fault: %v %v", info, err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { // in turn: they share the provider
			p.SetBehaviour(tc.fault)
			rp := newOIDCApp(t, p.Issuer())
			tc.check(t, rp, rp.exchange(t, rp.signIn(t, alice)))
		})
	}
	p.SetBehaviour(testkit.OIDCBehaviour{})
	rp := newOIDCApp(t, p.Issuer())
	if _, err := rp.verify(rp.exchange(t, rp.signIn(t, alice))); err != nil {
		t.Errorf("after the faults: %v", err)
	}
}

func wantInvalid(why string) func(t *testing.T, rp *oidcApp, tok *oauth2.Token) {
	return func(t *testing.T, rp *oidcApp, tok *oauth2.Token) {
		if _, err := rp.verify(tok); err == nil || !strings.Contains(err.Error(), why) {
			t.Errorf("verify: %v, want an error about %q", err, why)
		}
	}
}

func TestOIDCProvider_StopAndStartOnTheSamePort(t *testing.T) {
	t.Parallel()
	p := testkit.StartOIDCProvider(t, testkit.OIDCProviderConfig{Clients: []testkit.OIDCClient{appClient()}, Users: []testkit.OIDCUser{alice}})
	issuer := p.Issuer()
	dave := testkit.OIDCUser{Subject: "dave-4", Username: "dave", Password: "dave-pw", Email: "dave@example.com"}
	p.SetUser(dave) // while it runs
	rp := newOIDCApp(t, issuer)
	rp.exchange(t, rp.signIn(t, dave))

	p.Stop()
	if _, err := oidc.NewProvider(context.Background(), issuer); err == nil {
		t.Fatal("discovery answered while the provider was stopped")
	}
	p.Start()
	if p.Issuer() != issuer {
		t.Fatalf("issuer %s after a restart, was %s", p.Issuer(), issuer)
	}
	rp = newOIDCApp(t, issuer)
	if _, err := rp.verify(rp.exchange(t, rp.signIn(t, dave))); err != nil { // dave kept, new key published
		t.Fatal(err)
	}
}
