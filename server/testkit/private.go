package testkit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
)

// PublicMetrics serves /metrics on the public address (AUTHD_PUBLIC_METRICS).
var PublicMetrics Option = func(d *server.Deps) { d.HTTP.PublicMetrics = true }

// ReadinessDetails makes the public /readiness detailed, as in development.
var ReadinessDetails Option = func(d *server.Deps) { d.HTTP.ReadinessDetails = true }

// Private answers a GET on the private metrics listener (AUTHD_METRICS_ADDR).
func (a *App) Private(path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.Server.PrivateHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

// Readiness is the detailed readiness the private listener serves.
type Readiness struct {
	Status  int // HTTP status
	Failing []string
	Checks  client.Checks
}

// DetailedReadiness reads /readiness on the private listener, fresh (it is
// not cached).
func (a *App) DetailedReadiness(t T) Readiness {
	t.Helper()
	rec := a.Private("/readiness")
	var body struct {
		Failing []string      `json:"failing"`
		Checks  client.Checks `json:"checks"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Checks == nil {
		t.Fatalf("private /readiness: %d %s (%v)", rec.Code, rec.Body, err)
	}
	return Readiness{Status: rec.Code, Failing: body.Failing, Checks: body.Checks}
}
