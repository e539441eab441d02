package mail

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one outbox row to deliver; ID is its idempotency key.
type Message struct {
	ID      string
	Kind    string
	To      string
	Subject string
	Text    string
	HTML    string
	Attempt int
}

// Sender delivers one message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends through an SMTP server with wneessen/go-mail.
type SMTP struct {
	host   string
	opts   []gomail.Option
	from   string
	domain string
}

// NewSMTP reads smtp://user:pass@host:port (or smtps:// for implicit TLS).
// smtp:// requires STARTTLS, except to a loopback host (add ?tls=required to
// insist there too). from is the sender address.
func NewSMTP(rawURL, from string, timeout time.Duration) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return nil, fmt.Errorf("AUTHD_SMTP_URL must look like smtp://user:pass@host:587")
	}
	// STARTTLS is required, so a stripped upgrade cannot expose links or
	// credentials, except on loopback (a local relay or a test server).
	policy := gomail.TLSMandatory
	if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
		policy = gomail.TLSOpportunistic
	}
	if u.Query().Get("tls") == "required" {
		policy = gomail.TLSMandatory
	}
	opts := []gomail.Option{gomail.WithTimeout(timeout), gomail.WithTLSPolicy(policy)}
	if u.Scheme == "smtps" {
		opts = append(opts, gomail.WithSSL())
	}
	if p := u.Port(); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return nil, fmt.Errorf("AUTHD_SMTP_URL port: %w", err)
		}
		opts = append(opts, gomail.WithPort(port))
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	addr, err := mail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("AUTHD_MAIL_FROM: %w", err)
	}
	domain := addr.Address[strings.LastIndex(addr.Address, "@")+1:]
	return &SMTP{host: u.Hostname(), opts: opts, from: from, domain: domain}, nil
}

// Send implements Sender. The Message-ID is derived from the outbox id, so
// a resend after an unclear failure can be recognised downstream.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.from); err != nil {
		return fmt.Errorf("from address: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.ID + "@" + s.domain)
	msg.SetGenHeader("X-Authd-Mail-Kind", m.Kind)
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	client, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, msg)
}

// Log "sends" by writing the message, link and all, to the log: the
// development default, so that `make run` shows every flow without SMTP.
// Never used in production, where links are secrets.
type Log struct{ log *slog.Logger }

// NewLog returns a Log sender.
func NewLog(log *slog.Logger) *Log { return &Log{log: log} }

// Send implements Sender.
func (l *Log) Send(ctx context.Context, m Message) error {
	l.log.InfoContext(ctx, "mail (development: not sent, AUTHD_SMTP_URL is empty)",
		"mail_id", m.ID, "kind", m.Kind, "to", m.To, "subject", m.Subject, "body", m.Text)
	return nil
}
