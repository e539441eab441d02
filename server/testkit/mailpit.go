package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mailpit is a real SMTP server for tests (github.com/axllent/mailpit, pinned
// in tools/mailpit/go.mod), read back through its HTTP API.
type Mailpit struct {
	t        testing.TB
	dir      string
	smtpAddr string
	httpAddr string
	cmd      *exec.Cmd
}

var mailpitBinary struct {
	sync.Once
	path string
	err  error
}

// buildMailpit compiles Mailpit once per test binary (the Go build cache
// makes later builds quick).
func buildMailpit() (string, error) {
	mailpitBinary.Do(func() {
		root, err := repoRoot()
		if err != nil {
			mailpitBinary.err = err
			return
		}
		dir, err := os.MkdirTemp("", "authd-mailpit-bin-")
		if err != nil {
			mailpitBinary.err = err
			return
		}
		out := filepath.Join(dir, "mailpit")
		cmd := exec.Command("go", "build", "-modfile=tools/mailpit/go.mod", "-o", out, "github.com/axllent/mailpit")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			mailpitBinary.err = fmt.Errorf("build mailpit: %v\n%s", err, b)
			return
		}
		mailpitBinary.path = out
	})
	return mailpitBinary.path, mailpitBinary.err
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "tools", "mailpit", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no tools/mailpit/go.mod above the test's directory")
		}
		dir = parent
	}
}

// StartMailpit runs a Mailpit on free loopback ports until the test ends.
func StartMailpit(t testing.TB) *Mailpit {
	t.Helper()
	m := &Mailpit{t: t, dir: t.TempDir(), smtpAddr: freeAddr(t), httpAddr: freeAddr(t)}
	m.Start()
	t.Cleanup(m.Stop)
	return m
}

func freeAddr(t T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // only its free port was wanted
	return addr
}

// SMTPURL is where authd should send.
func (m *Mailpit) SMTPURL() string { return "smtp://" + m.smtpAddr }

// Start (re)starts the server on its ports, keeping its stored messages.
func (m *Mailpit) Start() {
	m.t.Helper()
	bin, err := buildMailpit()
	if err != nil {
		m.t.Fatal(err)
	}
	m.cmd = exec.Command(bin, "--smtp", m.smtpAddr, "--listen", m.httpAddr,
		"--database", filepath.Join(m.dir, "mailpit.db"), "--disable-version-check", "--quiet")
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	WaitUntil(m.t, 30*time.Second, 20*time.Millisecond, func() bool {
		resp, err := http.Get("http://" + m.httpAddr + "/api/v1/info")
		if err != nil {
			return false
		}
		resp.Body.Close()
		c, err := net.Dial("tcp", m.smtpAddr)
		if err == nil {
			_ = c.Close()
		}
		return err == nil
	}, func() string { return "mailpit did not start" })
}

// Stop ends the server: SMTP is down until Start.
func (m *Mailpit) Stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	_ = m.cmd.Wait()
	m.cmd = nil
}

// Message is one received mail.
type Message struct {
	ID        string
	MessageID string
	Subject   string
	Text      string
	HTML      string
	To        []struct{ Address string }
	From      struct{ Address string }
}

// MailTo returns every message to addr, oldest first, with bodies.
func (m *Mailpit) MailTo(addr string) []Message {
	m.t.Helper()
	var list struct{ Messages []Message }
	m.get("/api/v1/search?limit=200&query="+url.QueryEscape(`to:"`+addr+`"`), &list)
	out := make([]Message, 0, len(list.Messages))
	for i := len(list.Messages) - 1; i >= 0; i-- { // the API lists newest first
		var full Message
		m.get("/api/v1/message/"+list.Messages[i].ID, &full)
		out = append(out, full)
	}
	return out
}

// WaitForMail waits until at least n messages to addr arrived and returns them.
func (m *Mailpit) WaitForMail(addr string, n int) []Message {
	m.t.Helper()
	var got []Message
	WaitUntil(m.t, 20*time.Second, 50*time.Millisecond, func() bool {
		got = m.MailTo(addr)
		return len(got) >= n
	}, func() string { return fmt.Sprintf("%d of %d mails to %s arrived in 20 s", len(got), n, addr) })
	return got
}

func (m *Mailpit) get(path string, into any) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.httpAddr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		m.t.Fatalf("mailpit %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		m.t.Fatal(err)
	}
}

var tokenParam = regexp.MustCompile(`token=([A-Za-z0-9_%-]+)`)

// LinkToken is the token of the link in a mail body.
func LinkToken(t testing.TB, body string) string {
	t.Helper()
	m := tokenParam.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link with a token in:\n%s", body)
	}
	tok, err := url.QueryUnescape(m[1])
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(tok)
}
