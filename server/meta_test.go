package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
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
	if resp.JSON200 == nil {
		t.Fatalf("status %d: %s", resp.StatusCode(), resp.Body)
	}
	for _, name := range []string{"database", "circuit_breaker", "migrations"} {
		if c, ok := resp.JSON200.Checks[name]; !ok || c.Status != "ok" {
			t.Errorf("check %s = %+v", name, c)
		}
	}
}

type behindMigrations struct{}

func (behindMigrations) Versions(context.Context) (int64, int64, error) { return 1, 2, nil }

func TestReadiness_MigrationsBehind(t *testing.T) {
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
	if c := p.Checks["migrations"]; c.Status != "fail" || c.Detail == nil || !strings.Contains(*c.Detail, "1 of 2") {
		t.Errorf("migrations check = %+v", c)
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
	if p.Checks["circuit_breaker"].Status != "fail" || p.Checks["database"].Status != "fail" {
		t.Errorf("checks = %+v", p.Checks)
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
