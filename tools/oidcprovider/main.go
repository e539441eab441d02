// Command oidcprovider is a small OpenID Connect provider for authd's tests,
// built on the op package of github.com/zitadel/oidc (an OpenID-certified
// library). It serves discovery, an authorization endpoint with a plain
// HTML login form, the token endpoint (authorization code with PKCE S256,
// client_secret_basic and/or client_secret_post), userinfo and the JWKS,
// and signs ID tokens with an RS256 key made at start. Clients, users and
// the behaviour tests turn (RFC 9207 iss parameter, faults) come from a JSON
// file (see Config and example.json); everything else lives in memory.
//
//	go run -C tools/oidcprovider . -config example.json
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

func main() {
	configPath := flag.String("config", "", "JSON configuration file (clients, users, behaviour)")
	listen := flag.String("listen", "", "address to serve on, e.g. 127.0.0.1:9998 (overrides the file)")
	issuer := flag.String("issuer", "", "issuer URL (overrides the file; default http://<listen>)")
	flag.Parse()
	cfg, err := loadConfig(*configPath, *listen, *issuer)
	if err == nil {
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "oidcprovider:", err)
		os.Exit(1)
	}
}

func run(cfg Config) error {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	s, err := newStorage(cfg)
	if err != nil {
		return err
	}
	handler, err := newHandler(cfg, s)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown) // exiting either way
	}()
	slog.Info("serving", "issuer", cfg.Issuer, "addr", ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newHandler puts the op provider behind this provider's own parts: the
// discovery document, the login form, the admin endpoints, the token
// endpoint's authentication method check and the RFC 9207 iss parameter.
func newHandler(cfg Config, s *storage) (http.Handler, error) {
	var cryptoKey [32]byte // encrypts codes and access tokens
	_, _ = rand.Read(cryptoKey[:])
	provider, err := op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		AuthMethodPost: true,
	}, s, op.StaticIssuer(cfg.Issuer), op.WithAllowInsecure()) // http issuers on loopback
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /.well-known/openid-configuration", discovery(provider, s))
	mux.Handle("/login", op.NewIssuerInterceptor(provider.IssuerFromRequest).Handler(
		&login{storage: s, provider: provider, callback: op.AuthCallbackURL(provider)}))
	if cfg.AdminToken != "" {
		mux.Handle("/testing/", admin(s, cfg.AdminToken))
	}
	mux.Handle("/", provider)
	return withIssParameter(s, cfg.Issuer, withClientAuthMethods(s, provider.TokenEndpoint().Relative(), mux)), nil
}
