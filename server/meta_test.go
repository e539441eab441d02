package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jwt"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

func TestServiceInfo(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.GetServiceInfoWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.JSON200; got == nil || got.Name != "authd" || got.Version != "test" || got.DocsUrl != "/docs" || got.OpenapiUrl != "/openapi.json" {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
}

func TestHealth_NeedsNoDatabase(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, deadDatabase(t))
	resp, err := app.Client.GetHealthWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Status != "ok" {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
}

func TestReadiness_ReadyWithCurrentSchema(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Status != "ready" {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	detailed := app.DetailedReadiness(t)
	for _, name := range []string{"database", "circuit_breaker", "migrations"} {
		if c, ok := detailed.Checks[name]; !ok || c.Status != "ok" {
			t.Errorf("check %s = %+v", name, c)
		}
	}
}

// TestReadiness_PublicAnswerTellsNoMailCounts: a password reset request
// queues mail only for a real account, so outbox counts in the public
// answer would tell which addresses have accounts. They are on the private
// listener only.
func TestReadiness_PublicAnswerTellsNoMailCounts(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, testkit.IsolatedDatabase(t))
	u, _ := app.NewUser(t)
	forgot(t, app, u.Email)
	resp, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(resp.Body, &body); err != nil || resp.StatusCode() != http.StatusOK {
		t.Fatalf("readiness %d: %s", resp.StatusCode(), resp.Body)
	}
	if len(body) != 1 || body["status"] != "ready" {
		t.Errorf("public readiness = %s, want status only", resp.Body)
	}
	if _, detail := outbox(t, app); !strings.HasPrefix(detail, "1 pending") {
		t.Errorf("private mail_outbox detail = %q, want the queued mail counted", detail)
	}
}

type behindMigrations struct{}

func (behindMigrations) Versions(context.Context) (int64, int64, error) { return 1, 2, nil }

func TestReadiness_NotReadyNamesTheFailingCheckOnly(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(d *server.Deps) { d.Migrations = behindMigrations{} })
	resp, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p := resp.ApplicationproblemJSON503
	if p == nil {
		t.Fatalf("status %d, want 503: %s", resp.StatusCode(), resp.Body)
	}
	if len(p.Failing) != 1 || p.Failing[0] != "migrations" || p.Checks != nil || strings.Contains(string(resp.Body), "1 of 2") {
		t.Errorf("public 503 = %s, want failing [migrations] and no details", resp.Body)
	}
	detailed := app.DetailedReadiness(t)
	if c := detailed.Checks["migrations"]; detailed.Status != http.StatusServiceUnavailable || c.Status != "fail" || c.Detail == nil || !strings.Contains(*c.Detail, "1 of 2") {
		t.Errorf("private readiness %d, migrations check = %+v", detailed.Status, c)
	}
}

func TestReadiness_DetailedInDevelopment(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.ReadinessDetails)
	resp, err := app.Client.GetReadinessWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || resp.JSON200.Checks == nil || (*resp.JSON200.Checks)["mail_outbox"].Detail == nil {
		t.Fatalf("development readiness %d: %s, want every check's detail", resp.StatusCode(), resp.Body)
	}
}

// countingMigrations counts readiness runs: each asks for the schema version once.
type countingMigrations struct {
	next server.Migrations
	n    atomic.Int64
}

func (c *countingMigrations) Versions(ctx context.Context) (int64, int64, error) {
	c.n.Add(1)
	return c.next.Versions(ctx)
}

// stoppedClock is a clock that moves only when told.
type stoppedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stoppedClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *stoppedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestReadiness_AFloodOfProbesRunsTheChecksOncePerSecond(t *testing.T) {
	t.Parallel()
	counter := &countingMigrations{}
	clock := &stoppedClock{now: time.Now()}
	app := testkit.NewApp(t, func(d *server.Deps) {
		counter.next, d.Migrations, d.Now = d.Migrations, counter, clock.Now
	})
	probe := func() {
		resp, err := app.Client.GetReadinessWithResponse(context.Background())
		if err != nil || resp.JSON200 == nil {
			t.Errorf("readiness: %v", err)
		}
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(probe)
	}
	wg.Wait()
	if got := counter.n.Load(); got != 1 {
		t.Fatalf("50 probes within one second ran the checks %d times, want 1", got)
	}
	clock.Advance(time.Second)
	probe()
	probe()
	if got := counter.n.Load(); got != 2 {
		t.Errorf("a second later: %d runs, want 2", got)
	}
	app.DetailedReadiness(t) // the private listener is not cached
	if got := counter.n.Load(); got != 3 {
		t.Errorf("after a private read: %d runs, want 3", got)
	}
}

// deadDatabase points the app at a port where nothing listens.
func deadDatabase(t *testing.T) testkit.Option {
	pool, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return func(d *server.Deps) {
		d.DB = database.NewResilient(pool, database.BreakerSettings{
			Failures: 3, OpenFor: 14 * time.Second, Successes: 1, QueryTimeout: 2 * time.Second,
		}, d.Log)
	}
}

func TestDatabaseDown_BreakerOpensInto503(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing, deadDatabase(t))
	ctx := context.Background()

	for range 3 { // each failure counts; the third opens the breaker
		resp, err := app.Client.RegisterWithResponse(ctx, testkit.RegisterBody())
		if err != nil {
			t.Fatal(err)
		}
		if resp.ApplicationproblemJSON503 == nil {
			t.Fatalf("status %d, want 503: %s", resp.StatusCode(), resp.Body)
		}
	}
	resp, err := app.Client.LoginWithResponse(ctx, testkit.LoginBody(testkit.UniqueEmail()))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ApplicationproblemJSON503 == nil {
		t.Fatalf("status %d, want 503", resp.StatusCode())
	}
	if got := resp.HTTPResponse.Header.Get("Retry-After"); got == "" || got == "0" {
		t.Errorf("Retry-After = %q, want the breaker's remaining delay", got)
	}
	if strings.Contains(string(resp.Body), "127.0.0.1") || strings.Contains(string(resp.Body), "circuit") {
		t.Errorf("503 leaks internals: %s", resp.Body)
	}

	ready, err := app.Client.GetReadinessWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := ready.ApplicationproblemJSON503
	if p == nil {
		t.Fatalf("readiness status %d, want 503", ready.StatusCode())
	}
	if !slices.Contains(p.Failing, "circuit_breaker") || !slices.Contains(p.Failing, "database") {
		t.Errorf("failing = %v, want circuit_breaker and database", p.Failing)
	}
	if len(app.Logs.Lines("circuit breaker changed state", `"to":"open"`)) == 0 {
		t.Error("breaker opening was not logged")
	}
	if scrape(t, app, `authd_db_circuit_breaker_state`) != 2 || scrape(t, app, `authd_db_circuit_breaker_transitions_total{to="open"}`) != 1 {
		t.Error("the breaker metrics do not show it open")
	}
}

func TestOpenAPIDocuments(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	ctx := context.Background()
	j, err := app.Client.GetOpenAPIJSONWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(j.Body, &doc); err != nil || doc.OpenAPI != "3.0.3" || doc.Paths["/auth/login"] == nil {
		t.Fatalf("openapi.json: %v %+v", err, doc.OpenAPI)
	}
	y, err := app.Client.GetOpenAPIYAMLWithResponse(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(y.Body), "openapi: 3.0.3") || !strings.Contains(string(y.Body), "/auth/refresh-token:") {
		t.Errorf("openapi.yaml does not look like the spec: %.200s", y.Body)
	}
	if ct := y.HTTPResponse.Header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestDocs_ServesSwaggerUIWithoutCDN(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t)
	resp, err := app.Client.GetDocsWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	html := string(resp.Body)
	if resp.StatusCode() != 200 || !strings.Contains(html, "swagger-ui") || !strings.Contains(html, "/openapi.json") {
		t.Fatalf("status %d: %.300s", resp.StatusCode(), html)
	}
	if strings.Contains(html, "cdn") || strings.Contains(html, "unpkg") {
		t.Error("docs page loads from a CDN")
	}
	asset, err := http.Get(app.URL + "/docs/swagger-ui-bundle.js")
	if err != nil {
		t.Fatal(err)
	}
	defer asset.Body.Close()
	n, _ := io.Copy(io.Discard, asset.Body)
	if asset.StatusCode != 200 || n < 100_000 {
		t.Errorf("embedded bundle: status %d, %d bytes", asset.StatusCode, n)
	}
}

func TestJWKS_PublishesTheKeyThatSigns(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, testkit.FastHashing)
	resp, err := app.Client.GetJWKSWithResponse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if resp.JSON200 == nil || len(resp.JSON200.Keys) != 1 {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	k := resp.JSON200.Keys[0]
	if k.Kty != "OKP" || k.Alg == nil || *k.Alg != "EdDSA" || k.Use == nil || *k.Use != "sig" || k.Kid == "" {
		t.Errorf("key = %+v", k)
	}
	if strings.Contains(string(resp.Body), `"d"`) {
		t.Fatal("JWKS contains private key material")
	}
	// Rotation waits this long between publishing a key and signing with it.
	if got, want := resp.HTTPResponse.Header.Get("Cache-Control"), fmt.Sprintf("public, max-age=%.0f", server.JWKSMaxAge.Seconds()); got != want {
		t.Errorf("Cache-Control %q, want %q", got, want)
	}
	// A relying party that knows only the JWKS can verify authd's tokens.
	set, err := jwk.Parse(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	_, pair := app.NewUser(t)
	if _, err := jwt.ParseString(pair.AccessToken, jwt.WithKeySet(set)); err != nil {
		t.Errorf("access token does not verify with the published JWKS: %v", err)
	}
}
