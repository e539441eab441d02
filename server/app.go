package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/swaggest/swgui"
	"github.com/swaggest/swgui/v5emb"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"

	"github.com/authd/authd"
	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/clientip"
	"github.com/authd/authd/server/telemetry"
)

// HTTPOptions are the HTTP-level settings of the Echo application.
type HTTPOptions struct {
	CORSOrigins    []string
	RequestTimeout time.Duration
	// TrustedProxies are CIDRs whose forwarding header names the client;
	// ForwardedHeader is that header (X-Forwarded-For, the default, or Forwarded).
	TrustedProxies  []string
	ForwardedHeader string
	// PublicMetrics serves /metrics here too; off, only the private
	// listener serves them (some counters move only for real accounts).
	PublicMetrics bool
	// ReadinessDetails adds every check's detail to /readiness (development).
	ReadinessDetails bool
	// Pprof serves /debug/pprof/ on the private listener.
	Pprof bool
	// DevLinkPages serves a page at each mail link's path (development):
	// there is no frontend there to take the token (see devlinks.go).
	DevLinkPages bool
	// ExampleDir, when set, is the built example page served at /example/
	// (development; see example.go).
	ExampleDir string
}

// buildHandlers builds, once, what the listeners serve: the public
// application (traced when tracing is on) and the private listener's mux.
func (s *Server) buildHandlers() error {
	spec, err := authd.LoadSpec()
	if err != nil {
		return fmt.Errorf("load embedded spec: %w", err)
	}
	if err := s.loadDocs(spec); err != nil {
		return err
	}
	e, err := s.newEcho(spec)
	if err != nil {
		return err
	}
	if s.handler, err = s.traced(e); err != nil {
		return err
	}
	s.private = s.privateHandler()
	return nil
}

// newEcho assembles the application: middleware in the order requests meet
// it, the generated strict handlers, and Swagger UI's embedded assets.
func (s *Server) newEcho(spec *openapi3.T) (*echo.Echo, error) {
	opts := s.http
	authenticate, err := s.authenticate(spec)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	ips, err := opts.clientIPs()
	if err != nil {
		return nil, err
	}
	e.IPExtractor = ips.ClientIP

	e.Use(requestContext(opts.RequestTimeout))
	e.Use(accessLog(s.log, s.metrics))
	e.Use(recoverPanics(s.log))
	e.Use(securityHeaders(strings.HasPrefix(s.mail.PublicURL, "https://")))
	e.Use(noStore(spec))
	if len(opts.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  opts.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID},
			ExposeHeaders: []string{echo.HeaderXRequestID, "Retry-After", "WWW-Authenticate"},
			MaxAge:        600,
		}))
	}
	e.Use(s.requireSchema)
	e.Use(guardBody)
	e.Use(authenticate)
	e.Use(s.requestValidator(spec))

	api.RegisterHandlers(e, api.NewStrictHandler(s, []api.StrictMiddlewareFunc{s.limitRequests}))
	if err := routesMatchSpec(e, spec); err != nil {
		return nil, err
	}
	e.GET("/docs/*", echo.WrapHandler(s.swaggerUI))
	if opts.DevLinkPages {
		if err := registerDevLinks(e); err != nil {
			return nil, err
		}
	}
	if opts.ExampleDir != "" {
		s.registerExample(e, opts.ExampleDir)
	}
	return e, nil
}

// clientIPs finds clients behind the trusted proxies.
func (o HTTPOptions) clientIPs() (*clientip.Extractor, error) {
	ips, err := clientip.New(o.TrustedProxies, o.ForwardedHeader)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	return ips, nil
}

// traced puts a span around each request of e, when tracing is on. A W3C
// traceparent is continued only from a trusted proxy; from anyone else it is
// a link of a new trace, so a client can neither join authd's spans to a
// trace of its choosing nor switch their sampling off.
func (s *Server) traced(e *echo.Echo) (http.Handler, error) {
	if s.tracer == nil {
		return e, nil
	}
	ips, err := s.http.clientIPs()
	if err != nil {
		return nil, err
	}
	return otelhttp.NewHandler(e, "http.request",
		otelhttp.WithTracerProvider(s.tracer), otelhttp.WithPropagators(telemetry.Propagator),
		otelhttp.WithPublicEndpointFn(func(r *http.Request) bool { return !ips.PeerTrusted(r) })), nil
}

// Handler is the public application (AUTHD_ADDR).
func (s *Server) Handler() http.Handler { return s.handler }

// PrivateHandler serves the private metrics listener (AUTHD_METRICS_ADDR).
func (s *Server) PrivateHandler() http.Handler { return s.private }

func newSwaggerUI() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "authd API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		HideCurl:    false,
	})
}
