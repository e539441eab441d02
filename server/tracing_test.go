package server_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// TestTracing_LoginIsARequestSpanWithQueryChildren sends a login that
// continues a W3C trace, and reads the spans from the SDK's in-memory
// exporter.
func TestTracing_LoginIsARequestSpanWithQueryChildren(t *testing.T) {
	t.Parallel()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	app := testkit.NewApp(t, testkit.FastHashing, testkit.Traced(t, tp))
	u, _ := app.NewUser(t)
	spans.Reset()

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	resp, err := app.Client.LoginWithResponse(context.Background(), testkit.LoginBody(u.Email), testkit.Header("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"))
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("login: %v", err)
	}
	_ = tp.ForceFlush(context.Background())

	var request *tracetest.SpanStub
	got := spans.GetSpans()
	for i, s := range got {
		if s.Name == "POST /auth/login" {
			request = &got[i]
		}
	}
	if request == nil {
		t.Fatalf("no request span among %d spans", len(got))
	}
	if request.SpanContext.TraceID().String() != traceID {
		t.Errorf("request span in trace %s, want the caller's %s", request.SpanContext.TraceID(), traceID)
	}
	children := 0
	for _, s := range got {
		if s.Parent.SpanID() == request.SpanContext.SpanID() && s.Name != "pool.acquire" {
			children++
			for _, a := range s.Attributes {
				if strings.Contains(a.Value.String(), u.Email) {
					t.Errorf("a query span holds an argument: %s=%s", a.Key, a.Value.String())
				}
			}
		}
	}
	if children < 5 { // the lookup, the backoff transaction, the session transaction...
		var names []string
		for _, s := range got {
			names = append(names, s.Name+" (parent "+s.Parent.SpanID().String()+")")
		}
		t.Errorf("%d query spans under the request span %s, want the login's queries: %v", children, request.SpanContext.SpanID(), names)
	}
	reqID := resp.HTTPResponse.Header.Get("X-Request-ID")
	lines := app.Logs.Lines(`"request_id":"` + reqID + `"`)
	if len(lines) == 0 {
		t.Fatal("no log lines for the login")
	}
	for _, l := range lines {
		if !strings.Contains(l, `"trace_id":"`+traceID+`"`) {
			t.Errorf("a log line of the traced request lacks its trace id: %s", l)
		}
	}
}

// tracedHealth sends GET /health with headers to a traced app and returns
// its request span.
func tracedHealth(t *testing.T, trustProxy bool, headers ...client.RequestEditorFn) tracetest.SpanStub {
	t.Helper()
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	app := testkit.NewApp(t, testkit.Traced(t, tp), func(d *server.Deps) {
		if !trustProxy {
			d.HTTP.TrustedProxies = nil
		}
	})
	if _, err := app.Client.GetHealthWithResponse(context.Background(), headers...); err != nil {
		t.Fatal(err)
	}
	_ = tp.ForceFlush(context.Background())
	for _, s := range spans.GetSpans() {
		if s.Name == "GET /health" {
			return s
		}
	}
	t.Fatalf("no request span among %d spans", len(spans.GetSpans()))
	return tracetest.SpanStub{}
}

func clientAddress(s tracetest.SpanStub) string {
	addr := ""
	for _, a := range s.Attributes { // the last value of a key is the one exported
		if a.Key == "client.address" {
			addr = a.Value.AsString()
		}
	}
	return addr
}

// TestTracing_UntrustedTraceparentIsALinkNotTheParent: a client outside
// AUTHD_TRUSTED_PROXIES cannot put authd's spans into a trace of its
// choosing, nor switch tracing off with an unsampled traceparent, nor name
// its own address with X-Forwarded-For.
func TestTracing_UntrustedTraceparentIsALinkNotTheParent(t *testing.T) {
	t.Parallel()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	s := tracedHealth(t, false,
		testkit.Header("traceparent", "00-"+traceID+"-00f067aa0ba902b7-00"),
		testkit.From("198.51.100.66"))
	if s.SpanContext.TraceID().String() == traceID || s.Parent.IsValid() {
		t.Errorf("request span in trace %s with parent %v: the client's traceparent was adopted", s.SpanContext.TraceID(), s.Parent.SpanID())
	}
	if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != traceID {
		t.Errorf("links = %+v, want the client's span context", s.Links)
	}
	if got := clientAddress(s); got != "127.0.0.1" {
		t.Errorf("client.address = %q, want the socket peer 127.0.0.1", got)
	}
}

// TestTracing_ClientAddressIsAuthdsOwn: behind a trusted proxy the client is
// the nearest untrusted hop, as the limits see it, not the first address a
// client may have forged.
func TestTracing_ClientAddressIsAuthdsOwn(t *testing.T) {
	t.Parallel()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	s := tracedHealth(t, true,
		testkit.Header("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01"),
		testkit.From("198.51.100.66, 203.0.113.9"))
	if s.SpanContext.TraceID().String() != traceID {
		t.Errorf("behind a trusted proxy the span is in trace %s, want %s", s.SpanContext.TraceID(), traceID)
	}
	if got := clientAddress(s); got != "203.0.113.9" {
		t.Errorf("client.address = %q, want 203.0.113.9", got)
	}
}
