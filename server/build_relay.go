package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/textproto"
	"net/url"
	"sync"
	"time"
)

// relayTimeout bounds one probe of the SMTP relay (within readinessTimeout);
// relayRecheck is how long readiness reuses an outcome, so that a flood of
// probes opens one connection to the relay per period, not one a second.
const (
	relayTimeout = 3 * time.Second
	relayRecheck = 30 * time.Second
)

// relayProbe checks that the SMTP relay answers with its greeting. It does
// not log in: a probe must not lock an account with failed attempts or fill
// the relay's logs with sessions.
type relayProbe struct {
	addr       string // host:port, never the URL's credentials
	serverName string
	implicit   bool // smtps: TLS from the first byte

	mu  sync.Mutex
	at  time.Time
	err error
}

func newRelayProbe(rawURL string) (*relayProbe, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("AUTHD_SMTP_URL: no relay host")
	}
	port := u.Port()
	switch {
	case port != "":
	case u.Scheme == "smtps":
		port = "465"
	default:
		port = "25" // as the sender defaults
	}
	return &relayProbe{addr: net.JoinHostPort(u.Hostname(), port), serverName: u.Hostname(), implicit: u.Scheme == "smtps"}, nil
}

// check is the last outcome while it is fresh, else a new probe's.
func (p *relayProbe) check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.at.IsZero() && time.Since(p.at) < relayRecheck {
		return p.err
	}
	p.err, p.at = p.greet(ctx), time.Now()
	return p.err
}

// greet connects and reads the relay's 220 greeting, then says QUIT.
func (p *relayProbe) greet(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, relayTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return err
	}
	if p.implicit {
		conn = tls.Client(conn, &tls.Config{ServerName: p.serverName, MinVersion: tls.VersionTLS12})
	}
	tp := textproto.NewConn(conn)
	if _, _, err := tp.ReadResponse(220); err != nil {
		return fmt.Errorf("no greeting from %s: %w", p.addr, err)
	}
	_ = tp.PrintfLine("QUIT") // courtesy; the answer does not matter
	return nil
}

// relayCheck probes the relay of cfg once at start, logging a failure once,
// and returns the check readiness runs; nil when mail goes to the log.
func relayCheck(ctx context.Context, smtpURL string, log *slog.Logger) (func(context.Context) error, error) {
	if smtpURL == "" {
		return nil, nil
	}
	p, err := newRelayProbe(smtpURL)
	if err != nil {
		return nil, err
	}
	if err := p.check(ctx); err != nil {
		log.Warn("mail relay does not answer: mail waits in the outbox until it does", "relay", p.addr, "error", err.Error())
	} else {
		log.Info("mail relay answers", "relay", p.addr)
	}
	return p.check, nil
}
