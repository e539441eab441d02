// Package federation keeps the OpenID Connect providers authd logs users in
// with: their discovery (in the background, retried until it succeeds) and,
// once discovered, the calls a login makes to them: the authorization URL,
// the code exchange, the ID token's verification and userinfo.
package federation

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"
)

// Provider is one configured provider.
type Provider struct {
	Name, DisplayName string
	Issuer            string
	ClientID          string
	ClientSecret      string
	Scopes            []string
	// RedirectURL is authd's callback for this provider, as registered there.
	RedirectURL string
}

// Options tune a Registry.
type Options struct {
	// Client makes every call to the providers; it must have a timeout.
	Client *http.Client
	// Now is the clock ID tokens are checked against.
	Now func() time.Time
	Log *slog.Logger
	// A discovery that fails is tried again after RetryBase, doubling up
	// to RetryMax.
	RetryBase, RetryMax time.Duration
}

// The defaults of Options.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultRetryBase = time.Second
	DefaultRetryMax  = time.Minute
)

// Registry is the configured providers, in their configured order.
type Registry struct {
	opts    Options
	entries []*entry
	byName  map[string]*entry
}

// entry is a provider and, once its discovery succeeded, what it discovered.
type entry struct {
	Provider
	live atomic.Pointer[Live]
}

// New is a registry of providers, none discovered yet; Run discovers them.
func New(providers []Provider, opts Options) *Registry {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: DefaultTimeout}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = DefaultRetryBase
	}
	if opts.RetryMax < opts.RetryBase {
		opts.RetryMax = max(DefaultRetryMax, opts.RetryBase)
	}
	r := &Registry{opts: opts, byName: map[string]*entry{}}
	for _, p := range providers {
		e := &entry{Provider: p}
		r.entries = append(r.entries, e)
		r.byName[p.Name] = e
	}
	return r
}

// Status is what a login page and readiness may know of a provider.
type Status struct {
	Name, DisplayName string
	Available         bool // discovered
}

// List is every provider's status, in the configured order.
func (r *Registry) List() []Status {
	out := make([]Status, 0, len(r.entries))
	for _, e := range r.entries {
		out = append(out, Status{Name: e.Name, DisplayName: e.DisplayName, Available: e.live.Load() != nil})
	}
	return out
}

// Configured reports whether name is a configured provider.
func (r *Registry) Configured(name string) bool {
	_, ok := r.byName[name]
	return ok
}

// Live is the discovered provider name, or nil while its discovery has not
// succeeded (or when it is not configured).
func (r *Registry) Live(name string) *Live {
	if e, ok := r.byName[name]; ok {
		return e.live.Load()
	}
	return nil
}

// Run discovers every provider, each in its own goroutine, trying again
// with backoff until it succeeds or ctx ends; it returns when all are done.
// It never holds up the start: the handlers answer provider_unavailable
// until a provider is discovered.
func (r *Registry) Run(ctx context.Context) {
	done := make(chan struct{}, len(r.entries))
	for _, e := range r.entries {
		go func() {
			defer func() { done <- struct{}{} }()
			r.discoverUntilFound(ctx, e)
		}()
	}
	for range r.entries {
		<-done
	}
}

// discoverUntilFound tries e's discovery until it succeeds or ctx ends.
func (r *Registry) discoverUntilFound(ctx context.Context, e *entry) {
	wait := r.opts.RetryBase
	for e.live.Load() == nil {
		live, err := discover(ctx, e.Provider, r.opts)
		if err == nil {
			e.live.Store(live)
			r.opts.Log.InfoContext(ctx, "OpenID Connect provider discovered", "provider", e.Name, "issuer", e.Issuer,
				"iss_parameter_required", live.issParameterRequired)
			return
		}
		if ctx.Err() != nil {
			return
		}
		r.opts.Log.WarnContext(ctx, "OpenID Connect discovery failed; retrying", "provider", e.Name, "issuer", e.Issuer,
			"error", Truncate(err.Error()), "retry_in", wait.String())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, r.opts.RetryMax)
	}
}

// maxLogged is how much of a provider's words a log line keeps.
const maxLogged = 200

// Truncate shortens text from a provider (an error, a description) for a
// log line: it is the provider's, not authd's, and may be long.
func Truncate(s string) string {
	if len(s) <= maxLogged {
		return s
	}
	cut := maxLogged
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
