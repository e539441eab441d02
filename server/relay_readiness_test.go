package server_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/testkit"
)

// TestReadiness_SilentRelayDegradesButStaysReady: mail waits in the outbox
// while the relay is away, so authd stays ready and says degraded.
func TestReadiness_SilentRelayDegradesButStaysReady(t *testing.T) {
	t.Parallel()
	app := testkit.NewApp(t, func(d *server.Deps) {
		d.Mail.RelayCheck = func(ctx context.Context) error { return errors.New("dial tcp: connection refused") }
	})
	r := app.DetailedReadiness(t)
	if r.Status != http.StatusOK {
		t.Errorf("readiness = %d, want 200", r.Status)
	}
	if c := r.Checks["mail_relay"]; c.Status != "degraded" {
		t.Errorf("mail_relay = %+v, want degraded", c)
	}
}
