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
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.HandleError
	header := opts.ForwardedHeader
	if header == "" {
		header = clientip.HeaderXForwardedFor
	}
	ips, err := clientip.New(opts.TrustedProxies, header)
	if err != nil {
		return nil, fmt.Errorf("trusted proxies: %w", err)
	}
	e.IPExtractor = ips.ClientIP

	e.Use(requestContext(opts.RequestTimeout))
	e.Use(accessLog(s.Log, s.Metrics))
	e.Use(recoverPanics(s.Log))
	e.Use(securityHeaders(strings.HasPrefix(s.Mail.PublicURL, "https://")))
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
	e.Use(s.requestValidator(spec))

	// Strict middlewares wrap in reverse: requireCaller runs first.
	api.RegisterHandlers(e, api.NewStrictHandler(s, []api.StrictMiddlewareFunc{s.limitRequests, s.requireCaller(spec)}))
	e.GET("/docs/*", echo.WrapHandler(s.swaggerUI))
	return e, nil
}

// Handler is the application with a span around each request (continuing a
// W3C traceparent the client sent), when tracing is on.
func (s *Server) Handler() (http.Handler, error) {
	e, err := s.Echo()
	if err != nil || s.Tracer == nil {
		return e, err
	}
	return otelhttp.NewHandler(e, "http.request",
		otelhttp.WithTracerProvider(s.Tracer), otelhttp.WithPropagators(telemetry.Propagator)), nil
}

func newSwaggerUI() http.Handler {
	return v5emb.NewHandlerWithConfig(swgui.Config{
		Title:       "authd API",
		SwaggerJSON: "/openapi.json",
		BasePath:    "/docs/",
		HideCurl:    false,
	})
}
