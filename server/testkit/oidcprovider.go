package testkit

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// OIDCProvider is a real OpenID Connect provider on a free loopback port:
// tools/oidcprovider (our own program on zitadel/oidc's op package, in its
// own module), with a login form a Browser fills. Its issuer is plain http
// on 127.0.0.1.
type OIDCProvider struct {
	t     T
	addr  string
	dir   string
	admin string // bearer token of its /testing/ endpoints

	mu   sync.Mutex
	cfg  OIDCProviderConfig // what the next Start runs with
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	exit error
	logs LogBuffer
}

// OIDCProviderConfig is what the provider knows at start.
type OIDCProviderConfig struct {
	Clients   []OIDCClient  `json:"clients"`
	Users     []OIDCUser    `json:"users"`
	Behaviour OIDCBehaviour `json:"behaviour"`
}

// OIDCClient is a relying party registered at the provider (a confidential
// web application using the code flow with PKCE S256).
type OIDCClient struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	RedirectURIs []string `json:"redirect_uris"`
	// AuthMethods at the token endpoint: "client_secret_basic" and/or
	// "client_secret_post"; empty allows both.
	AuthMethods []string `json:"auth_methods,omitempty"`
}

// OIDCUser is an account at the provider; it signs in on the login form
// with Username and Password and is known to relying parties as Subject.
type OIDCUser struct {
	Subject       string `json:"subject"`
	Username      string `json:"username"`
	Password      string `json:"password"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	// EmailOnlyInUserinfo keeps email and email_verified out of the ID
	// token; the userinfo endpoint still answers them.
	EmailOnlyInUserinfo bool `json:"email_only_in_userinfo"`
	// EmailVerifiedAsString sends email_verified as "true"/"false".
	EmailVerifiedAsString bool `json:"email_verified_as_string"`
}

// OIDCBehaviour holds the RFC 9207 knobs and the faults a relying party
// must detect. The zero value is a well-behaved provider that neither
// sends nor advertises the iss parameter.
type OIDCBehaviour struct {
	// SendIssParameter adds `iss` to every authorization response, success
	// or error (RFC 9207); zitadel's op package does not.
	SendIssParameter bool `json:"send_iss_parameter"`
	// IssParameterValue is sent as `iss` instead of the issuer (mix-up).
	IssParameterValue string `json:"iss_parameter_value"`
	// AdvertiseIssParameter sets authorization_response_iss_parameter_supported
	// in the discovery document.
	AdvertiseIssParameter bool `json:"advertise_iss_parameter"`
	// IDTokenNonce is put in ID tokens instead of the nonce the relying
	// party sent (for requests started after it is set).
	IDTokenNonce string `json:"id_token_nonce"`
	// IDTokenExpired issues ID tokens that expired a minute before.
	IDTokenExpired bool `json:"id_token_expired"`
	// SignWithUnpublishedKey signs ID tokens with a key not in the JWKS.
	SignWithUnpublishedKey bool `json:"sign_with_unpublished_key"`
	// UserinfoSubject is answered as `sub` by the userinfo endpoint.
	UserinfoSubject string `json:"userinfo_subject"`
}

var oidcProviderBinary struct {
	sync.Once
	path string
	err  error
}

// buildOIDCProvider compiles tools/oidcprovider once per test binary (the
// Go build cache makes later builds quick). It is a main package of its own
// module, so it is built in its directory rather than with -modfile.
func buildOIDCProvider() (string, error) {
	oidcProviderBinary.Do(func() {
		root, err := repoRoot()
		if err != nil {
			oidcProviderBinary.err = err
			return
		}
		dir, err := os.MkdirTemp("", "authd-oidcprovider-bin-")
		if err != nil {
			oidcProviderBinary.err = err
			return
		}
		out := filepath.Join(dir, "oidcprovider")
		cmd := exec.Command("go", "build", "-o", out, ".")
		cmd.Dir = filepath.Join(root, "tools", "oidcprovider")
		if b, err := cmd.CombinedOutput(); err != nil {
			oidcProviderBinary.err = fmt.Errorf("build tools/oidcprovider: %v\n%s", err, b)
			return
		}
		oidcProviderBinary.path = out
	})
	return oidcProviderBinary.path, oidcProviderBinary.err
}

// StartOIDCProvider runs a provider with cfg on a free loopback port, waits
// until its discovery document answers and stops it when the test ends.
func StartOIDCProvider(t T, cfg OIDCProviderConfig) *OIDCProvider {
	t.Helper()
	dir, err := os.MkdirTemp("", "authd-oidcprovider-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	token := make([]byte, 16)
	_, _ = rand.Read(token) // never fails (crypto/rand)
	p := &OIDCProvider{t: t, addr: freeAddr(t), dir: dir, admin: hex.EncodeToString(token), cfg: cfg}
	t.Cleanup(p.Stop)
	p.Start()
	return p
}

// Issuer is the provider's issuer URL, http://127.0.0.1:<port>, the same
// across Stop and Start.
func (p *OIDCProvider) Issuer() string { return "http://" + p.addr }

// Logs is what the provider wrote (its warnings name refused requests).
func (p *OIDCProvider) Logs() string { return p.logs.String() }

// Start runs the provider on its port with the current configuration
// (SetUser and SetBehaviour included). A restart forgets pending requests,
// codes and access tokens and signs with a new key, as a real provider
// that lost its state would.
func (p *OIDCProvider) Start() {
	p.t.Helper()
	bin, err := buildOIDCProvider()
	if err != nil {
		p.t.Fatal(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		p.t.Fatal("the OIDC provider is already running")
	}
	file, err := json.Marshal(struct {
		Listen     string `json:"listen"`
		AdminToken string `json:"admin_token"`
		OIDCProviderConfig
	}{p.addr, p.admin, p.cfg})
	if err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(p.dir, "config.json")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", path)
	cmd.Stdout, cmd.Stderr = &p.logs, &p.logs
	if err := cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.exit = cmd.Wait(); close(done) }()
	p.cmd, p.done = cmd, done
	WaitUntil(p.t, 30*time.Second, 20*time.Millisecond, func() bool {
		select {
		case <-done:
			p.t.Fatalf("the OIDC provider exited at start (%v):\n%s", p.exit, p.Logs())
		default:
		}
		return p.discoveryAnswers()
	}, func() string { return "the OIDC provider's discovery did not answer within 30s:\n" + p.Logs() })
}

func (p *OIDCProvider) discoveryAnswers() bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop kills the provider: its port refuses connections until Start.
func (p *OIDCProvider) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill() // it may have exited already
	<-p.done
	p.cmd, p.done = nil, nil
}

// SetUser adds u, or replaces the user with its subject, at once and for
// later starts.
func (p *OIDCProvider) SetUser(u OIDCUser) {
	p.t.Helper()
	p.mu.Lock()
	replaced := false
	for i := range p.cfg.Users {
		if p.cfg.Users[i].Subject == u.Subject {
			p.cfg.Users[i], replaced = u, true
		}
	}
	if !replaced {
		p.cfg.Users = append(p.cfg.Users, u)
	}
	p.mu.Unlock()
	p.put("/testing/users", u)
}

// SetBehaviour replaces the behaviour at once and for later starts. The
// nonce fault applies to requests started after it.
func (p *OIDCProvider) SetBehaviour(b OIDCBehaviour) {
	p.t.Helper()
	p.mu.Lock()
	p.cfg.Behaviour = b
	p.mu.Unlock()
	p.put("/testing/behaviour", b)
}

// put sends v to a /testing/ endpoint of a running provider.
func (p *OIDCProvider) put(path string, v any) {
	p.t.Helper()
	p.mu.Lock()
	running := p.cmd != nil
	p.mu.Unlock()
	if !running {
		return // the next Start reads it from the configuration
	}
	body, err := json.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, p.Issuer()+path, bytes.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+p.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		p.t.Fatalf("OIDC provider %s: %s", path, resp.Status)
	}
}
