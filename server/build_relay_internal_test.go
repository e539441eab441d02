package server

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/gen/api"
)

// TestRelayCheck_SilentRelayIsLoggedOnceAndDegraded: a relay nothing answers
// for is logged once at start (never its credentials) and reported degraded
// by readiness, from a cached outcome.
func TestRelayCheck_SilentRelayIsLoggedOnceAndDegraded(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	addr := closedAddr(t)
	check, err := relayCheck(context.Background(), "smtp://mailer:relay-s3cret@"+addr, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "mail relay does not answer"); n != 1 || !strings.Contains(logs.String(), addr) {
		t.Errorf("%d 'does not answer' lines naming %s, want 1:\n%s", n, addr, logs.String())
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Error("the log shows the relay's password")
	}
	s := &Server{mail: MailOptions{RelayCheck: check}}
	for range 2 {
		if c := s.relayCheck(context.Background()); c.Status != api.CheckStatusDegraded {
			t.Errorf("readiness = %s, want degraded", c.Status)
		}
	}
	if n := strings.Count(logs.String(), "mail relay"); n != 1 {
		t.Errorf("readiness logged: %s", logs.String())
	}
}

// TestRelayCheck_GreetingRelayIsOK: a relay that greets is ok, and the probe
// leaves without logging in.
func TestRelayCheck_GreetingRelayIsOK(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	said := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write([]byte("220 relay.example ESMTP ready\r\n"))
		line, _ := bufio.NewReader(c).ReadString('\n')
		said <- line
	}()
	var logs bytes.Buffer
	check, err := relayCheck(context.Background(), "smtp://"+l.Addr().String(), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "mail relay answers") {
		t.Errorf("no 'answers' line:\n%s", logs.String())
	}
	if got := <-said; got != "QUIT\r\n" {
		t.Errorf("the probe said %q, want QUIT", got)
	}
	s := &Server{mail: MailOptions{RelayCheck: check}}
	if c := s.relayCheck(context.Background()); c.Status != api.CheckStatusOk {
		t.Errorf("readiness = %s %v, want ok", c.Status, c.Detail)
	}
}
