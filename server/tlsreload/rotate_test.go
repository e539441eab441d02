package tlsreload_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/server/testkit/testcert"
	"github.com/authd/authd/server/tlsreload"
)

// serveTLS serves a small answer over HTTPS (HTTP/2 and HTTP/1.1) with cfg,
// as authd serve does, and returns the address.
func serveTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.NextProtos = []string{"h2", "http/1.1"}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig:         cfg,
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // refused handshakes are what some tests do
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(l, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("server: %v", err)
		}
	})
	return l.Addr().String()
}

// Phases of the rotation: the first pair, a half-written second pair, the
// completed second pair.
const (
	phaseFirst = iota
	phaseHalfWritten
	phaseRotated
	phases
)

// worker sends requests in a loop and counts those begun in each phase.
type worker struct {
	name     string
	client   *http.Client
	fresh    bool // every request opens a new connection (new handshake)
	perPhase [phases]atomic.Int64
	reached  [phases]chan struct{}
	last     atomic.Pointer[x509.Certificate] // leaf of the latest answer
}

// TestReloader_RotatesUnderLoadWithoutAFailedRequest rotates the pair while
// clients keep sending requests on kept-alive HTTP/2 and HTTP/1.1
// connections and on new connections: no request fails, connections opened
// before the rotation keep their session, and every handshake after it gets
// the new certificate; a half-written pair in between changes nothing.
func TestReloader_RotatesUnderLoadWithoutAFailedRequest(t *testing.T) {
	ca := testcert.NewAuthority(t)
	first, second := ca.Issue(t), ca.Issue(t)
	certFile, keyFile := first.Write(t, t.TempDir())
	// Only Reload looks at the files here; the interval has its own test.
	r, err := tlsreload.New(certFile, keyFile, tlsreload.Options{CheckInterval: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + serveTLS(t, r.TLSConfig()) + "/"
	// A transport writes its protocols into its config: one config each.
	trust := func() *tls.Config { return &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12} }

	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: trust(), ForceAttemptHTTP2: true}}
	var workers []*worker
	add := func(name string, client *http.Client, fresh bool) {
		w := &worker{name: name, client: client, fresh: fresh}
		for p := range w.reached {
			w.reached[p] = make(chan struct{})
		}
		workers = append(workers, w)
	}
	add("h2 kept alive 1", h2, false) // two streams on one connection
	add("h2 kept alive 2", h2, false)
	for i := range 2 {
		add(fmt.Sprintf("h1 kept alive %d", i), &http.Client{Transport: &http.Transport{TLSClientConfig: trust(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}}, false)
	}
	for i := range 3 {
		add(fmt.Sprintf("new connections %d", i), &http.Client{Transport: &http.Transport{TLSClientConfig: trust(), DisableKeepAlives: true}}, true)
	}

	var phase atomic.Int32
	var failures atomic.Int64
	fail := func(format string, args ...any) {
		if failures.Add(1) <= 5 {
			t.Errorf(format, args...)
		}
	}
	const perPhase = 15
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				began := int(phase.Load())
				leaf, proto, err := get(w.client, url)
				ended := int(phase.Load())
				if err != nil {
					fail("%s, phase %d: %v", w.name, began, err)
					continue
				}
				w.last.Store(leaf)
				if w.name[:2] == "h2" && proto != 2 {
					fail("%s: HTTP/%d, want HTTP/2", w.name, proto)
				}
				if w.fresh {
					// A handshake begun after the rotation gets the new pair;
					// one ended before it, the old one.
					switch {
					case began == phaseRotated && !bytes.Equal(leaf.Raw, second.Leaf.Raw):
						fail("%s: a handshake after the rotation got serial %s", w.name, leaf.SerialNumber)
					case ended < phaseRotated && !bytes.Equal(leaf.Raw, first.Leaf.Raw):
						fail("%s: a handshake before the rotation got serial %s", w.name, leaf.SerialNumber)
					}
				}
				if w.perPhase[began].Add(1) == perPhase {
					close(w.reached[began])
				}
			}
		})
	}
	waitAll := func(p int) {
		t.Helper()
		timeout := time.After(60 * time.Second)
		for _, w := range workers {
			select {
			case <-w.reached[p]:
			case <-timeout:
				t.Fatalf("%s did not send %d requests in phase %d", w.name, perPhase, p)
			}
		}
	}
	defer func() { close(stop); wg.Wait() }()

	waitAll(phaseFirst)
	// The writer has replaced the certificate but not yet the key.
	writeFile(t, certFile, second.CertPEM)
	if err := r.Reload(); err == nil {
		t.Fatal("a certificate with the old key was accepted")
	}
	phase.Store(phaseHalfWritten)
	waitAll(phaseHalfWritten)
	writeFile(t, keyFile, second.KeyPEM)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	phase.Store(phaseRotated)
	waitAll(phaseRotated)
	close(stop)
	wg.Wait()
	stop = make(chan struct{}) // for the deferred close

	for _, w := range workers {
		want, which := first, "the first"
		if w.fresh {
			want, which = second, "the new"
		}
		if got := w.last.Load(); !bytes.Equal(got.Raw, want.Leaf.Raw) {
			t.Errorf("%s: the last answer came with serial %s, want %s certificate (%s)", w.name, got.SerialNumber, which, want.Leaf.SerialNumber)
		}
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d failures during the rotation", n)
	}
}

// get fetches url and returns the server's leaf and the HTTP major version.
func get(client *http.Client, url string) (*x509.Certificate, int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return nil, 0, err
	}
	if resp.StatusCode != http.StatusOK || resp.TLS == nil {
		return nil, 0, fmt.Errorf("status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	return resp.TLS.PeerCertificates[0], resp.ProtoMajor, nil
}
