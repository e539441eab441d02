// Package telemetry sets up OpenTelemetry tracing: off unless an exporter
// is configured through the standard OTEL_* variables, W3C trace context
// propagation, and spans that carry the trace id into log lines.
package telemetry

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Propagator reads and writes W3C traceparent (and baggage) headers.
var Propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Setup returns the tracer provider and its shutdown: OTLP over HTTP (the
// exporter reads its OTEL_EXPORTER_OTLP_* settings) when enabled, else nil,
// and nothing is traced: no spans, and no trace ids taken from clients.
func Setup(ctx context.Context, enabled bool, version string, log *slog.Logger) (trace.TracerProvider, func(context.Context) error, error) {
	if !enabled {
		return nil, func(context.Context) error { return nil }, nil
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP trace exporter: %w", err)
	}
	// Schemaless attributes merge with the SDK's defaults whatever semantic
	// convention version those use; OTEL_SERVICE_NAME and
	// OTEL_RESOURCE_ATTRIBUTES, read last, win.
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithAttributes(attribute.String("service.name", "authd"), attribute.String("service.version", version)),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	log.Info("tracing: exporting spans over OTLP")
	return tp, tp.Shutdown, nil
}
