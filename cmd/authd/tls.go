package main

import (
	"bytes"
	"context"
	"crypto/tls"
	stdlog "log"
	"log/slog"
	"net/http"
	"time"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/tlsreload"
)

// publicTLS is the public listener's TLS configuration: nil without
// AUTHD_TLS_CERT_FILE and AUTHD_TLS_KEY_FILE (plain HTTP, which production
// expects a proxy in front to terminate), else the pair from the files,
// reloaded when they change, offered over HTTP/2 and HTTP/1.1 with TLS 1.2
// at least.
func publicTLS(cfg config.Config, log *slog.Logger) (*tls.Config, error) {
	if !cfg.TLSEnabled() {
		if !cfg.Development() {
			log.Warn("serving plain HTTP on AUTHD_ADDR: TLS must be terminated in front of authd (a proxy or ingress), or set AUTHD_TLS_CERT_FILE and AUTHD_TLS_KEY_FILE", "addr", cfg.Addr)
		}
		return nil, nil
	}
	certs, err := tlsreload.New(cfg.TLSCertFile, cfg.TLSKeyFile, tlsreload.Options{Log: log})
	if err != nil {
		return nil, err
	}
	leaf := certs.Current().Leaf
	if now := time.Now(); now.After(leaf.NotAfter) || now.Before(leaf.NotBefore) {
		log.Warn("the TLS certificate is not valid now: clients will refuse it", "not_before", leaf.NotBefore.UTC().Format(time.RFC3339), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	log.Info("serving HTTPS", "subject", leaf.Subject.String(), "serial", leaf.SerialNumber.String(),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339), "reload_check", tlsreload.DefaultCheckInterval.String())
	c := certs.TLSConfig()
	c.NextProtos = []string{"h2", "http/1.1"}
	return c, nil
}

// listenAndServe serves HTTPS when the server has a TLS configuration.
func listenAndServe(s *http.Server) error {
	if s.TLSConfig != nil {
		return s.ListenAndServeTLS("", "") // the pair comes from GetCertificate
	}
	return s.ListenAndServe()
}

// scheme is the public listener's URL scheme.
func scheme(cfg config.Config) string {
	if cfg.TLSEnabled() {
		return "https"
	}
	return "http"
}

// serverErrorLog is the public http.Server's log: warnings, except failed
// TLS handshakes and HTTP/2 prefaces, which every port scanner and TCP
// health check causes and which are logged at debug.
func serverErrorLog(log *slog.Logger) *stdlog.Logger {
	return stdlog.New(serverLogWriter{log}, "", 0)
}

type serverLogWriter struct{ log *slog.Logger }

func (w serverLogWriter) Write(p []byte) (int, error) {
	level := slog.LevelWarn
	if bytes.Contains(p, []byte("TLS handshake error")) || bytes.Contains(p, []byte("http2: server: error reading preface")) {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, string(bytes.TrimSpace(p)))
	return len(p), nil
}
