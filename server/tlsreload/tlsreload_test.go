package tlsreload_test

import (
	"bytes"
	"crypto/tls"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/server/testkit/testcert"
	"github.com/authd/authd/server/tlsreload"
)

// clock is a test clock the interval is measured with.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// logLines counts the lines of buf that contain text.
func logLines(buf *syncBuffer, text string) int { return strings.Count(buf.String(), text) }

// syncBuffer is a log sink handshakes may write to concurrently.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func serving(t *testing.T, r *tlsreload.Reloader) []byte {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf.Raw
}

func TestNew_RefusesFilesWithoutAValidPair(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	a, b := ca.Issue(t), ca.Issue(t)
	dir := t.TempDir()
	certFile, keyFile := a.Write(t, dir)
	if err := os.WriteFile(keyFile, b.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsreload.New(certFile, keyFile, tlsreload.Options{}); err == nil {
		t.Error("a key of another certificate was accepted")
	}
	if _, err := tlsreload.New(certFile, dir+"/missing.key", tlsreload.Options{}); err == nil {
		t.Error("a missing key file was accepted")
	}
}

// TestReloader_KeepsThePairInUseWhenTheNewOneDoesNotParse: whatever the
// files hold while being replaced, handshakes keep the last good pair and
// each bad state is logged once, however many handshakes see it.
func TestReloader_KeepsThePairInUseWhenTheNewOneDoesNotParse(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	good, next := ca.Issue(t), ca.Issue(t)
	for name, files := range map[string]struct{ cert, key []byte }{
		"certificate half written":  {next.CertPEM[:len(next.CertPEM)/2], next.KeyPEM},
		"new certificate, old key":  {next.CertPEM, good.KeyPEM},
		"garbage":                   {[]byte("not a certificate"), []byte("not a key")},
		"empty key file":            {next.CertPEM, nil},
		"key file removed (rename)": {next.CertPEM, []byte("-")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			certFile, keyFile := good.Write(t, t.TempDir())
			r, err := tlsreload.New(certFile, keyFile, tlsreload.Options{Log: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, certFile, files.cert)
			if string(files.key) == "-" {
				if err := os.Remove(keyFile); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, keyFile, files.key)
			}
			for range 3 {
				if err := r.Reload(); err == nil {
					t.Fatal("Reload accepted a pair that does not parse")
				}
				if !bytes.Equal(serving(t, r), good.Leaf.Raw) {
					t.Fatal("the bad pair replaced the good one")
				}
			}
			if n := logLines(&logs, "do not hold a valid pair"); n != 1 {
				t.Errorf("bad pair logged %d times, want once:\n%s", n, logs.String())
			}
			writeFile(t, certFile, next.CertPEM)
			writeFile(t, keyFile, next.KeyPEM)
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(serving(t, r), next.Leaf.Raw) {
				t.Error("the completed pair was not taken")
			}
			if n := logLines(&logs, "TLS certificate reloaded"); n != 1 {
				t.Errorf("reload logged %d times, want once:\n%s", n, logs.String())
			}
		})
	}
}

// TestReloader_HandshakesLookAtTheFilesOncePerInterval drives the change
// detection with a test clock: a handshake before the interval has passed
// keeps the pair it has, the first one after it takes the new files, and
// unchanged files are not loaded again.
func TestReloader_HandshakesLookAtTheFilesOncePerInterval(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	a, b := ca.Issue(t), ca.Issue(t)
	certFile, keyFile := a.Write(t, t.TempDir())
	clk := &clock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	var logs syncBuffer
	r, err := tlsreload.New(certFile, keyFile, tlsreload.Options{CheckInterval: 10 * time.Second, Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, certFile, b.CertPEM)
	writeFile(t, keyFile, b.KeyPEM)
	clk.Add(9 * time.Second)
	if !bytes.Equal(serving(t, r), a.Leaf.Raw) {
		t.Fatal("the files were read before the interval had passed")
	}
	clk.Add(time.Second)
	if !bytes.Equal(serving(t, r), b.Leaf.Raw) {
		t.Fatal("the first handshake after the interval did not take the new pair")
	}
	clk.Add(10 * time.Second)
	if !bytes.Equal(serving(t, r), b.Leaf.Raw) {
		t.Fatal("the pair changed without new files")
	}
	if n := logLines(&logs, "TLS certificate reloaded"); n != 1 {
		t.Errorf("%d reloads logged, want 1 (unchanged files are not reloaded):\n%s", n, logs.String())
	}
}

func TestTLSConfig_RefusesTLS11(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	certFile, keyFile := ca.Issue(t).Write(t, t.TempDir())
	r, err := tlsreload.New(certFile, keyFile, tlsreload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, r.TLSConfig())
	client := &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11} //nolint:gosec // the old version is what is tested
	if conn, err := tls.Dial("tcp", addr, client); err == nil {
		conn.Close()
		t.Fatal("a TLS 1.1 handshake succeeded")
	}
	client.MaxVersion = tls.VersionTLS12
	conn, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatalf("TLS 1.2: %v", err)
	}
	conn.Close()
}

// TLS 1.2 is offered with forward-secret AEAD suites only: a client that
// asks for CBC with SHA-1, which Go would accept by default, is refused.
func TestTLSConfig_RefusesCBCSuites(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	certFile, keyFile := ca.Issue(t).Write(t, t.TempDir())
	r, err := tlsreload.New(certFile, keyFile, tlsreload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveTLS(t, r.TLSConfig())
	client := &tls.Config{RootCAs: ca.Pool, MaxVersion: tls.VersionTLS12, //nolint:gosec // the weak suite is what is tested
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}}
	if conn, err := tls.Dial("tcp", addr, client); err == nil {
		conn.Close()
		t.Fatal("a CBC-SHA1 handshake succeeded")
	}
	client.CipherSuites = nil
	conn, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatalf("TLS 1.2 with Go's default client suites: %v", err)
	}
	conn.Close()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
