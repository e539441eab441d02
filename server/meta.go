package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/pprof"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/api"
)

// docs holds the contract and Swagger UI, rendered once at start.
type docs struct {
	specJSON  []byte
	specYAML  []byte
	indexHTML []byte
	swaggerUI http.Handler
	jwks      api.JWKS
}

func (s *Server) loadDocs(spec *openapi3.T) (err error) {
	if s.specJSON, err = spec.MarshalJSON(); err != nil {
		return err
	}
	s.specYAML = authd.OpenAPI
	s.swaggerUI = newSwaggerUI()
	// Swagger UI renders its index from a template per request; it is the
	// same every time, so render it once through an in-memory writer.
	rec := httptest.NewRecorder()
	s.swaggerUI.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs/", nil))
	if rec.Code != http.StatusOK {
		return fmt.Errorf("render Swagger UI: status %d", rec.Code)
	}
	s.indexHTML = rec.Body.Bytes()
	return json.Unmarshal(s.keys.PublicJSON(), &s.jwks)
}

// GetServiceInfo implements api.StrictServerInterface.
func (s *Server) GetServiceInfo(context.Context, api.GetServiceInfoRequestObject) (api.GetServiceInfoResponseObject, error) {
	return api.GetServiceInfo200JSONResponse{Name: "authd", Version: s.version, DocsUrl: "/docs", OpenapiUrl: "/openapi.json"}, nil
}

// GetHealth implements api.StrictServerInterface; it never touches the database.
func (s *Server) GetHealth(context.Context, api.GetHealthRequestObject) (api.GetHealthResponseObject, error) {
	return api.GetHealth200JSONResponse{Status: api.HealthStatusOk}, nil
}

// JWKSMaxAge is how long relying parties may cache the JWKS, and so the least
// time between publishing a new key and promoting it to sign.
const JWKSMaxAge = 5 * time.Minute

var jwksCacheControl = fmt.Sprintf("public, max-age=%d", int(JWKSMaxAge.Seconds()))

// GetJWKS implements api.StrictServerInterface.
func (s *Server) GetJWKS(context.Context, api.GetJWKSRequestObject) (api.GetJWKSResponseObject, error) {
	return api.GetJWKS200JSONResponse{Body: s.jwks, Headers: api.GetJWKS200ResponseHeaders{CacheControl: &jwksCacheControl}}, nil
}

// GetOpenAPIJSON implements api.StrictServerInterface.
func (s *Server) GetOpenAPIJSON(context.Context, api.GetOpenAPIJSONRequestObject) (api.GetOpenAPIJSONResponseObject, error) {
	return rawJSON(s.specJSON), nil
}

// GetOpenAPIYAML implements api.StrictServerInterface.
func (s *Server) GetOpenAPIYAML(context.Context, api.GetOpenAPIYAMLRequestObject) (api.GetOpenAPIYAMLResponseObject, error) {
	return api.GetOpenAPIYAML200ApplicationyamlResponse{Body: bytes.NewReader(s.specYAML), ContentLength: int64(len(s.specYAML))}, nil
}

// GetDocs implements api.StrictServerInterface.
func (s *Server) GetDocs(context.Context, api.GetDocsRequestObject) (api.GetDocsResponseObject, error) {
	return api.GetDocs200TexthtmlResponse{Body: bytes.NewReader(s.indexHTML), ContentLength: int64(len(s.indexHTML))}, nil
}

// rawJSON writes pre-encoded JSON; the generated response type would decode
// and re-encode the whole spec on every request.
type rawJSON []byte

func (r rawJSON) VisitGetOpenAPIJSONResponse(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(r)
	return err
}

// GetMetrics implements api.StrictServerInterface: the Prometheus text
// format, only when asked for (some counters move only for real accounts).
func (s *Server) GetMetrics(ctx context.Context, _ api.GetMetricsRequestObject) (api.GetMetricsResponseObject, error) {
	if !s.http.PublicMetrics {
		return api.GetMetrics404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx, "Metrics are served on another address.")}, nil
	}
	var buf bytes.Buffer
	if err := s.metrics.Write(&buf); err != nil {
		return nil, err
	}
	return api.GetMetrics200TextResponse(buf.String()), nil
}

// privateHandler serves the private metrics listener (AUTHD_METRICS_ADDR):
// /metrics, and /readiness with every check's detail, uncached; with
// AUTHD_PPROF, Go's profiles under /debug/pprof/.
func (s *Server) privateHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{}))
	mux.Handle("GET /readiness", s.readinessDetails())
	if s.http.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index) // heap, allocs, goroutine, ... by name
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	}
	return mux
}
