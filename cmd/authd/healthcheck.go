package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/authd/authd/server/config"
)

// healthcheck asks the local authd (AUTHD_ADDR, over https when
// AUTHD_TLS_CERT_FILE and AUTHD_TLS_KEY_FILE are set, or the URL given) for
// /readiness and fails unless it answers 200: a probe for containers whose
// images have no curl.
func healthcheck(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	target := scheme(cfg) + "://" + displayAddr(cfg.Addr) + "/readiness"
	if len(args) > 0 {
		target = readinessURL(args[0])
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := probeClient(req.URL).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %d: %s", target, resp.StatusCode, body)
	}
	_, err = fmt.Fprintf(out, "ready: %s\n", body)
	return err
}

// readinessURL accepts either authd's base URL or its /readiness URL, since
// operators paste both.
func readinessURL(given string) string {
	base := strings.TrimSuffix(given, "/")
	if strings.HasSuffix(base, "/readiness") {
		return base
	}
	return base + "/readiness"
}

// probeClient verifies the server's certificate, except when an https probe
// checks authd on this host: its certificate names the public host, never
// localhost, so verifying would fail every correct setup, and the probe
// sends nothing secret and only reads the status.
func probeClient(u *url.URL) *http.Client {
	if u.Scheme != "https" || !onThisHost(u.Hostname()) {
		return http.DefaultClient
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // a loopback self-check, see above
	return &http.Client{Transport: t}
}

// onThisHost reports whether host is a loopback name or address, or the
// unspecified address a listener on every interface is reached by locally.
func onThisHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && (ip.IsLoopback() || ip.IsUnspecified())
}
