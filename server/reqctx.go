package server

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// requestInfo is the per-request state that middleware, authentication,
// handlers and log lines share. One pointer is put in the request context by
// the first middleware and filled in as the request goes on.
type requestInfo struct {
	id        string // authd's own, never the client's
	path      string
	ip        string
	userAgent string
	userID    string     // once known: authenticated, registered or logged in
	principal *principal // set by authenticate
	// actor is who acts on the admin API ("admin:<id>", "service:<id>"),
	// recorded on the events the request writes; empty for a user's own.
	actor string
	// counts are metric updates held until the request has succeeded, so
	// that a rolled-back transaction is not counted.
	counts []func()
	// clientRequestID is the client's X-Request-ID when sane: logged beside
	// id, never stored or echoed.
	clientRequestID string
}

// countOnSuccess holds a metric update until the request succeeded (or runs
// it at once outside a request).
func countOnSuccess(ctx context.Context, count func()) {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		info.counts = append(info.counts, count)
		return
	}
	count()
}

type infoKey struct{}

func withInfo(ctx context.Context, info *requestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

func infoFrom(ctx context.Context) *requestInfo {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return info
	}
	return &requestInfo{}
}

// requestID returns the request id of ctx, or "" outside a request.
func requestID(ctx context.Context) string { return infoFrom(ctx).id }

// ContextLogHandler adds request_id and user_id to every record logged with a
// request's context, so every log line of a request can be correlated.
type ContextLogHandler struct{ slog.Handler }

// Handle implements slog.Handler.
func (h ContextLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if info, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		r.AddAttrs(slog.String("request_id", info.id))
		if info.clientRequestID != "" {
			r.AddAttrs(slog.String("client_request_id", info.clientRequestID))
		}
		if info.userID != "" {
			r.AddAttrs(slog.String("user_id", info.userID))
		}
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h ContextLogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return ContextLogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup implements slog.Handler.
func (h ContextLogHandler) WithGroup(name string) slog.Handler {
	return ContextLogHandler{h.Handler.WithGroup(name)}
}
