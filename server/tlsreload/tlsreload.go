// Package tlsreload serves a certificate and key pair read from files and
// swaps in a new pair when the files change, so that a renewed certificate
// needs no restart and drops no connection: handshakes after the swap get the
// new pair, connections already open keep the session they have.
//
// Changes are found by polling on the handshake path, at most once per
// interval: both files are read and compared with what was last loaded (or
// last refused). Polling needs no dependency, costs nothing while no client
// connects, and sees every way a file can be replaced (in place, renamed over,
// a Kubernetes secret's symlink swap, a network file system), where a file
// watch loses track of a renamed file and misses some file systems.
package tlsreload

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultCheckInterval is how often, at most, a handshake looks at the files.
const DefaultCheckInterval = 10 * time.Second

// Options tune a Reloader; the zero value is production's.
type Options struct {
	// CheckInterval is the least time between two looks at the files;
	// zero means DefaultCheckInterval.
	CheckInterval time.Duration
	// Now is the clock the interval is measured with; nil means time.Now.
	Now func() time.Time
	// Log receives one line per swap and per refused pair; nil discards.
	Log *slog.Logger
}

// Reloader holds the current pair. Its methods are safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	interval          time.Duration
	now               func() time.Time
	log               *slog.Logger

	current   atomic.Pointer[tls.Certificate]
	nextCheck atomic.Int64 // unix nanoseconds

	mu         sync.Mutex        // one look at the files at a time; guards the rest
	seen       [sha256.Size]byte // digest of the pair last read
	seenErr    error             // why that pair was refused; nil if it is current
	unreadable bool              // the last look could not read the files
}

// New loads the pair from certFile and keyFile and fails if it does not
// parse: a server must not start without a certificate.
func New(certFile, keyFile string, opts Options) (*Reloader, error) {
	r := &Reloader{certFile: certFile, keyFile: keyFile, interval: opts.CheckInterval, now: opts.Now, log: opts.Log}
	if r.interval <= 0 {
		r.interval = DefaultCheckInterval
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	certPEM, keyPEM, digest, err := r.read()
	if err != nil {
		return nil, err
	}
	cert, err := parse(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	r.current.Store(cert)
	r.seen = digest
	r.nextCheck.Store(r.now().Add(r.interval).UnixNano())
	return r, nil
}

// TLSConfig is a server configuration that serves the current pair with
// TLS 1.2 at least and Go's default cipher suites. It sets no Certificates:
// crypto/tls would prefer them to GetCertificate for clients without SNI.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, CipherSuites: cipherSuites, GetCertificate: r.GetCertificate}
}

// GetCertificate returns the current pair, after looking at the files when
// the interval has passed since the last look (tls.Config.GetCertificate).
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if r.now().UnixNano() >= r.nextCheck.Load() && r.mu.TryLock() {
		// Another handshake already looking serves the current pair
		// rather than wait for the files.
		if r.now().UnixNano() >= r.nextCheck.Load() {
			_ = r.reloadLocked() // logged there; the old pair stays
		}
		r.mu.Unlock()
	}
	return r.current.Load(), nil
}

// Current is the pair new handshakes get.
func (r *Reloader) Current() *tls.Certificate { return r.current.Load() }

// Reload looks at the files now. A changed pair that parses replaces the
// current one; one that does not (half written, a key that does not match
// the certificate) is refused, logged once, and the current pair stays.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reloadLocked()
}

func (r *Reloader) reloadLocked() error {
	r.nextCheck.Store(r.now().Add(r.interval).UnixNano())
	certPEM, keyPEM, digest, err := r.read()
	switch {
	case err != nil && r.unreadable:
		return err // logged when the files stopped reading
	case err != nil:
		// A file missing for a moment (a rename in progress) is worth one
		// line until the files read again.
		r.unreadable = true
	default:
		r.unreadable = false
		if digest == r.seen {
			return r.seenErr // unchanged, or the same refused pair as last time
		}
		r.seen = digest
		var cert *tls.Certificate
		if cert, r.seenErr = parse(certPEM, keyPEM); r.seenErr == nil {
			r.current.Store(cert)
			r.log.Info("TLS certificate reloaded", leafAttrs(cert.Leaf)...)
			return nil
		}
		err = r.seenErr
	}
	r.log.Warn("TLS certificate files changed but do not hold a valid pair; still serving the previous certificate",
		append(leafAttrs(r.current.Load().Leaf), "error", err.Error())...)
	return err
}

// read returns both files and a digest of the pair.
func (r *Reloader) read() (certPEM, keyPEM []byte, digest [sha256.Size]byte, err error) {
	if certPEM, err = os.ReadFile(r.certFile); err != nil {
		return nil, nil, digest, fmt.Errorf("read certificate: %w", err)
	}
	if keyPEM, err = os.ReadFile(r.keyFile); err != nil {
		return nil, nil, digest, fmt.Errorf("read key: %w", err)
	}
	// The length prefix keeps "ab"+"c" and "a"+"bc" apart.
	h := sha256.New()
	_, _ = fmt.Fprintf(h, "%d:", len(certPEM))
	h.Write(certPEM)
	h.Write(keyPEM)
	copy(digest[:], h.Sum(nil))
	return certPEM, keyPEM, digest, nil
}

// cipherSuites are the TLS 1.2 suites offered: forward secret and AEAD
// only (Go's defaults also accept CBC with SHA-1). TLS 1.3 picks its own.
var cipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// parse checks that the key matches the certificate and keeps the parsed
// leaf for the log.
func parse(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate and key: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("TLS certificate: %w", err)
		}
	}
	return &cert, nil
}

func leafAttrs(leaf *x509.Certificate) []any {
	return []any{"subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}
