package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

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
}

// Echo assembles the application: middleware in the order requests meet it,
// the generated strict handlers, and Swagger UI's embedded assets.
func (s *Server) Echo() (*echo.Echo, error) {
	opts := s.HTTP
	spec, err := authd.LoadSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	if err := s.loadDocs(spec); err != nil {
		return nil, err
	}
	authenticate, err := s.authenticate(spec)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.HandleError
	ips, err := opts.clientIPs()
	if err != nil {
		return nil, err
	}
	e.IPExtractor = ips.ClientIP

	e.Use(requestContext(opts.RequestTimeout))
	e.Use(accessLog(s.Log, s.Metrics))
	e.Use(recoverPanics(s.Log))
	e.Use(securityHeaders(strings.HasPrefix(s.Mail.PublicURL, "https://")))
	e.Use(noStore(spec))
	if len(opts.CORSOrigins) > 0 {
		e.Use(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  opts.CORSOrigins,
			AllowMethods:  []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete},
			AllowHeaders:  []string{echo.HeaderAuthorization, echo.HeaderContentType, echo.HeaderXRequestID},
			ExposeHeaders: []string{echo.HeaderXRequestID, "Retry-After", "WWW-Authenticate"},
			MaxAge:        600,
		}))
	}
	e.Use(guardBody)
	e.Use(authenticate)
	e.Use(s.requestValidator(spec))

	api.RegisterHandlers(e, api.NewStrictHandler(s, []api.StrictMiddlewareFunc{s.limitRequests}))
	e.GET("/docs/*", echo.WrapHandler(s.swaggerUI))
	return e, nil
}

// clientIPs finds clients behind the trusted proxies.
func (o HTTPOptions) clientIPs() (*clientip.Extractor, error) {
	header := o.ForwardedHeader
	if header == "" {
		header = clientip.HeaderXForwardedFor
	}
	ips, err := clientip.New(o.TrustedProxies, header)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	return ips, nil
}

// Handler is the application with a span around each request, when tracing
// is on. A W3C traceparent is continued only from a trusted proxy; from
// anyone else it is a link of a new trace, so a client can neither join
// authd's spans to a trace of its choosing nor switch their sampling off.
func (s *Server) Handler() (http.Handler, error) {
	e, err := s.Echo()
	if err != nil || s.Tracer == nil {
		return e, err
	}
	ips, err := s.HTTP.clientIPs()
	if err != nil {
		return nil, err
	}
	return otelhttp.NewHandler(e, "http.request",
		otelhttp.WithTracerProvider(s.Tracer), otelhttp.WithPropagators(telemetry.Propagator),
		otelhttp.WithPublicEndpointFn(func(r *http.Request) bool { return !ips.PeerTrusted(r) })), nil
}

func newSwaggerUI() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "authd API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		HideCurl:    false,
	})
}
