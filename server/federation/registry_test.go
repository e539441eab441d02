package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// discoveryServer serves a discovery document for its own URL as issuer
// (or issuer, when set), failing the first failures requests with a 503.
// Each request is counted, and signalled on asked while it has room.
func discoveryServer(t *testing.T, failures int32, issuer string, extra map[string]any) (*httptest.Server, *atomic.Int32, chan struct{}) {
	t.Helper()
	var calls atomic.Int32
	asked := make(chan struct{}, 16)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		select {
		case asked <- struct{}{}:
		default:
		}
		if calls.Add(1) <= failures {
			http.Error(w, strings.Repeat("provider down ", 100), http.StatusServiceUnavailable)
			return
		}
		iss := issuer
		if iss == "" {
			iss = srv.URL
		}
		doc := map[string]any{
			"issuer": iss, "authorization_endpoint": srv.URL + "/authorize", "token_endpoint": srv.URL + "/token",
			"jwks_uri": srv.URL + "/keys", "userinfo_endpoint": srv.URL + "/userinfo", "id_token_signing_alg_values_supported": []string{"RS256"},
		}
		for k, v := range extra {
			doc[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(doc)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls, asked
}

func fastRetries() Options {
	return Options{RetryBase: time.Millisecond, RetryMax: 4 * time.Millisecond}
}

// TestRun_RetriesUntilDiscovered: a provider that fails its first answers
// is tried again until it answers; until then it is listed unavailable.
func TestRun_RetriesUntilDiscovered(t *testing.T) {
	t.Parallel()
	srv, calls, _ := discoveryServer(t, 3, "", map[string]any{"authorization_response_iss_parameter_supported": true})
	r := New([]Provider{{Name: "corp", DisplayName: "Corp", Issuer: srv.URL, ClientID: "authd", ClientSecret: "s", Scopes: []string{"openid"}}}, fastRetries())
	if got := r.List(); len(got) != 1 || got[0].Available || r.Live("corp") != nil {
		t.Fatalf("before discovery: %+v", got)
	}
	r.Run(context.Background()) // returns once every provider is discovered
	if n := calls.Load(); n != 4 {
		t.Errorf("discovery asked %d times, want 3 failures and a success", n)
	}
	live := r.Live("corp")
	if live == nil || !r.List()[0].Available || live.Issuer() != srv.URL || !live.IssParameterRequired() {
		t.Fatalf("after discovery: %+v, live %+v", r.List(), live)
	}
	u := live.AuthCodeURL("the-state", "the-nonce", "the-verifier-that-is-long-enough-for-pkce-1234")
	for _, want := range []string{srv.URL + "/authorize?", "state=the-state", "nonce=the-nonce", "code_challenge_method=S256", "code_challenge=", "client_id=authd", "response_type=code", "scope=openid"} {
		if !strings.Contains(u, want) {
			t.Errorf("authorization URL %s lacks %s", u, want)
		}
	}
	if strings.Contains(u, "the-verifier") {
		t.Errorf("the verifier itself is in the authorization URL %s", u)
	}
}

// TestRun_IssuerMustBeTheConfiguredOne: a discovery document naming another
// issuer is refused (and retried), never used.
func TestRun_IssuerMustBeTheConfiguredOne(t *testing.T) {
	t.Parallel()
	srv, _, asked := discoveryServer(t, 0, "https://evil.example", nil)
	r := New([]Provider{{Name: "corp", Issuer: srv.URL}}, fastRetries())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	for range 3 { // refused, and asked again
		<-asked
	}
	cancel()
	<-done // Run ends with its context, the provider still undiscovered
	if r.Live("corp") != nil || r.List()[0].Available {
		t.Error("a provider whose discovery names another issuer was used")
	}
}

// TestRun_UnknownProvider: nothing is live under a name not configured.
func TestRun_UnknownProvider(t *testing.T) {
	t.Parallel()
	r := New(nil, Options{})
	r.Run(context.Background())
	if r.Configured("corp") || r.Live("corp") != nil || len(r.List()) != 0 {
		t.Error("an unconfigured provider is known")
	}
}

func TestTruncate_KeepsLogLinesShortAndValid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 150) // 300 bytes
	got := Truncate(long)
	if len(got) > maxLogged+len("…") || !strings.HasSuffix(got, "…") || strings.ContainsRune(got, '\uFFFD') {
		t.Errorf("Truncate = %q (%d bytes)", got, len(got))
	}
	if Truncate("short") != "short" {
		t.Error("a short text was changed")
	}
}

func TestFlexBool_ReadsBooleansAndTheirStrings(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{`true`: true, `false`: false, `"true"`: true, `"false"`: false, `"yes"`: false, `1`: false, `null`: false} {
		var c emailClaims
		if err := json.Unmarshal([]byte(`{"email_verified":`+raw+`}`), &c); err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if bool(c.EmailVerified) != want {
			t.Errorf("email_verified %s read as %v, want %v", raw, c.EmailVerified, want)
		}
	}
}

// TestAuthorizedParty: a token of several audiences must name authd as its
// azp; a token naming another party is refused whatever its audience.
func TestAuthorizedParty(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		aud  []string
		azp  string
		good bool
	}{
		{[]string{"authd"}, "", true},
		{[]string{"authd"}, "authd", true},
		{[]string{"authd", "other"}, "authd", true},
		{[]string{"authd", "other"}, "", false},
		{[]string{"authd", "other"}, "other", false},
		{[]string{"authd"}, "other", false},
	} {
		if err := authorizedParty(tc.aud, tc.azp, "authd"); (err == nil) != tc.good {
			t.Errorf("aud %v azp %q: %v, want accepted %v", tc.aud, tc.azp, err, tc.good)
		}
	}
}
