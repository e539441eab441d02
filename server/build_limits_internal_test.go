package server

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/api"
	"github.com/authd/authd/server/config"
)

// closedAddr is a local address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestNewLimits_UnreachableRedisIsReportedFromTheStart: Redis unreachable at
// start is logged once, and the very first readiness check says degraded
// without waiting for Redis again.
func TestNewLimits_UnreachableRedisIsReportedFromTheStart(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := config.Config{RedisURL: "redis://" + closedAddr(t), RateLimitEnabled: true}
	limits, err := newLimits(context.Background(), cfg, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "shared store unreachable"); n != 1 {
		t.Errorf("%d 'unreachable' lines at start, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the start-up line does not say why:\n%s", logs.String())
	}
	s := &Server{limits: limits}
	start := time.Now()
	if c := s.limiterCheck(context.Background()); c.Status != api.CheckStatusDegraded {
		t.Errorf("first readiness check = %s, want degraded", c.Status)
	}
	if d := time.Since(start); d > 100*time.Millisecond {
		t.Errorf("first readiness check took %v: it tried Redis again", d)
	}
	if n := strings.Count(logs.String(), "shared store unreachable"); n != 1 {
		t.Errorf("%d 'unreachable' lines after a probe, want 1", n)
	}
}
