package testkit

import (
	"context"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/federation"
)

// WithOIDC configures the app's federated login from env (AUTHD_OIDC_*,
// AUTHD_REDIRECT_URLS, AUTHD_OIDC_SIGNUP), parsed and checked as authd does
// at start on top of the test environment. A discovery that fails is tried
// again within tens of milliseconds instead of seconds.
func WithOIDC(t T, env map[string]string) Option {
	t.Helper()
	full := testEnvironment("", "")
	delete(full, "AUTHD_JWT_KEYS_FILE")
	delete(full, "AUTHD_DATA_KEYS_FILE")
	for k, v := range env {
		full[k] = v
	}
	cfg, err := config.Load(full)
	if err != nil {
		t.Fatal(err)
	}
	return func(d *server.Deps) {
		d.OIDC = server.OIDCOptions{
			Providers: server.NewProviders(cfg, federation.Options{
				Log: d.Log, Now: d.Now, RetryBase: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
			}),
			RedirectURLs: cfg.RedirectURLs,
			Signup:       cfg.OIDCSignup,
		}
	}
}

// DiscoverProviders runs the app's provider discovery until the test ends,
// as authd's jobs do; the channel is closed once every provider is
// discovered.
func (a *App) DiscoverProviders(t T) <-chan struct{} {
	ctx, cancel := context.WithCancel(context.Background())
	done, all := make(chan struct{}), make(chan struct{})
	go func() {
		a.Server.DiscoverProviders(ctx)
		if ctx.Err() == nil {
			close(all)
		}
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return all
}
