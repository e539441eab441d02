package server_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

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
				if strings.Contains(a.Value.Emit(), u.Email) {
					t.Errorf("a query span holds an argument: %s=%s", a.Key, a.Value.Emit())
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
