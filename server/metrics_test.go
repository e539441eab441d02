package server_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// scrape returns the value of one sample in /metrics on the private
// listener; a missing sample fails the test.
func scrape(t *testing.T, app *testkit.App, sample string) float64 {
	t.Helper()
	body := app.Private("/metrics").Body.String()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Errorf("no sample %s in /metrics", sample)
	return -1
}

func TestMetrics_CountTrafficAndAuthEvents(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	ctx := context.Background()
	u, pair := app.NewUser(t)
	testkit.Must(app.Client.LoginWithResponse(ctx, client.LoginRequest{Email: u.Email, Password: "Wrong-Horse-8"}))(t)
	next := refresh(t, app, pair.RefreshToken).JSON200
	refresh(t, app, pair.RefreshToken) // grace retry
	refresh(t, app, "not-a-token")
	other := app.Login(t, u.Email, testkit.Password)
	third := refresh(t, app, other.RefreshToken).JSON200
	refresh(t, app, third.RefreshToken)
	refresh(t, app, other.RefreshToken) // reuse: revokes that session
	testkit.Must(app.Client.LogoutWithResponse(ctx, &client.LogoutParams{Scope: ptr(client.All)}, testkit.Bearer(next.AccessToken)))(t)
	req := testkit.Must(http.NewRequest("FROBNICATE", app.URL+"/health", nil))(t)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}

	for sample, want := range map[string]float64{
		`authd_registrations_total{outcome="created"}`:                                      1,
		`authd_registrations_total{outcome="conflict"}`:                                     0,
		`authd_logins_total{outcome="success"}`:                                             2,
		`authd_logins_total{outcome="bad_credentials"}`:                                     1,
		`authd_refreshes_total{outcome="rotated"}`:                                          3,
		`authd_refreshes_total{outcome="grace_retry"}`:                                      1,
		`authd_refreshes_total{outcome="unknown"}`:                                          1,
		`authd_refreshes_total{outcome="reuse_detected"}`:                                   1,
		`authd_logouts_total{scope="all"}`:                                                  1,
		`authd_sessions_revoked_total{reason="logout"}`:                                     1,
		`authd_sessions_revoked_total{reason="refresh_reuse"}`:                              1,
		`authd_mail_total{event="dead"}`:                                                    0,
		`authd_http_requests_total{method="POST",route="/auth/refresh-token",status="401"}`: 2,
		`authd_http_requests_total{method="POST",route="/auth/login",status="200"}`:         2,
		`authd_http_requests_total{method="other",route="/health",status="405"}`:            1,
		`authd_db_circuit_breaker_state`:                                                    0,
		`authd_password_hash_in_use`:                                                        0,
		`authd_password_hash_waiting`:                                                       0,
	} {
		if got := scrape(t, app, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	for _, positive := range []string{
		`authd_password_hash_duration_seconds_count{algorithm="argon2id"}`,
		`authd_http_request_duration_seconds_count{method="POST",route="/auth/login"}`,
		`authd_db_pool_acquires_total`,
		`authd_db_pool_max_connections`,
	} {
		if scrape(t, app, positive) <= 0 {
			t.Errorf("%s did not move", positive)
		}
	}
	body := app.Private("/metrics").Body.String()
	if !strings.Contains(body, `authd_build_info{goversion="go`) || !strings.Contains(string(body), `version="test"`) {
		t.Error("no authd_build_info with version and Go version")
	}
}

func TestMetrics_ThrottledLoginsAndMailEvents(t *testing.T) {
	t.Parallel()
	app, mp := mailApp(t)
	u, _ := app.NewUser(t)
	forgot(t, app, u.Email)
	mp.WaitForMail(u.Email, 1)
	drained(t, app)
	for range 8 { // past the per-client limit of 10/min (a burst of 5)
		testkit.Must(app.Client.LoginWithResponse(context.Background(), client.LoginRequest{Email: u.Email, Password: "Wrong-Horse-8"}, testkit.From("203.0.113.200")))(t)
	}
	if got := scrape(t, app, `authd_mail_total{event="queued"}`); got != 1 {
		t.Errorf("queued = %v, want 1", got)
	}
	if got := scrape(t, app, `authd_mail_total{event="sent"}`); got != 1 {
		t.Errorf("sent = %v, want 1", got)
	}
	if got := scrape(t, app, `authd_logins_total{outcome="throttled"}`); got < 1 {
		t.Errorf("throttled logins = %v, want some", got)
	}
}

func ptr[T any](v T) *T { return &v }

// TestMetrics_NotOnThePublicAddressUnlessAsked: a mail counter rising after
// a password reset request tells that the address has an account, so the
// public address serves /metrics only with AUTHD_PUBLIC_METRICS.
func TestMetrics_NotOnThePublicAddressUnlessAsked(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.GetMetricsWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusNotFound || strings.Contains(string(resp.Body), "authd_") {
		t.Errorf("public /metrics by default: %d %.80s, want 404", resp.StatusCode(), resp.Body)
	}
	if rec := app.Private("/metrics"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "authd_build_info") {
		t.Errorf("private /metrics: %d", rec.Code)
	}

	asked := testkit.NewApp(t, testkit.PublicMetrics)
	resp, err = asked.Client.GetMetricsWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode() != http.StatusOK || !strings.Contains(string(resp.Body), "authd_build_info") {
		t.Errorf("public /metrics with AUTHD_PUBLIC_METRICS: %d", resp.StatusCode())
	}
}

// TestMetrics_PrivateListenerServesOnlyItsPaths: the private listener answers
// /metrics and /readiness, and 404 elsewhere, so a mistyped scrape path fails
// loudly instead of scraping by accident.
func TestMetrics_PrivateListenerServesOnlyItsPaths(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	if rec := app.Private("/metrics"); rec.Code != http.StatusOK {
		t.Errorf("private /metrics: %d", rec.Code)
	}
	if rec := app.Private("/readiness"); rec.Code != http.StatusOK && rec.Code != http.StatusServiceUnavailable {
		t.Errorf("private /readiness: %d", rec.Code)
	}
	for _, path := range []string{"/", "/metric", "/metrics/", "/metrics/x", "/anything", "/health", "/debug/pprof/", "/debug/pprof/heap"} {
		if rec := app.Private(path); rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "authd_") {
			t.Errorf("private %s: %d %.60s, want 404 without metrics", path, rec.Code, rec.Body)
		}
	}
}

// TestMetrics_PprofOnlyWhenAsked: with AUTHD_PPROF the private listener
// serves Go's profiles (here the heap's, which answers at once); the public
// address never does.
func TestMetrics_PprofOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(d *server.Deps) { d.HTTP.Pprof = true })
	if rec := app.Private("/debug/pprof/heap?debug=1"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "heap profile") {
		t.Errorf("private /debug/pprof/heap: %d %.80s", rec.Code, rec.Body)
	}
	r, err := http.Get(app.URL + "/debug/pprof/heap")
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("public /debug/pprof/heap: %d, want 404", r.StatusCode)
	}
}
