package telemetry

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

func TestSetup_OffByDefault(t *testing.T) {
	tp, stop, err := Setup(context.Background(), false, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || tp != nil {
		t.Fatalf("disabled: provider %v, err %v; want nil, nil", tp, err)
	}
	if err := stop(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestSetup_OTLPStarts builds the real OTLP pipeline (nothing listens; the
// exporter only sends on flush), as `authd serve` does when configured.
func TestSetup_OTLPStarts(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:1")
	t.Setenv("OTEL_SERVICE_NAME", "authd-under-test")
	tp, stop, err := Setup(context.Background(), true, "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || tp == nil {
		t.Fatalf("enabled: provider %v, err %v", tp, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // do not wait for the unreachable collector
	_ = stop(ctx)
}
