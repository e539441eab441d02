package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/testkit"
	"github.com/authd/authd/server/testkit/testcert"
)

// TestServe_HTTPSWithHTTP2AndTheHealthcheck runs serve with a certificate:
// the public address answers over HTTP/2 with that certificate, refuses
// plain HTTP, and `authd healthcheck` probes it over https.
func TestServe_HTTPSWithHTTP2AndTheHealthcheck(t *testing.T) {
	dbURL, drop, err := testkit.CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	ca := testcert.NewAuthority(t)
	pair := ca.Issue(t)
	certFile, keyFile := pair.Write(t, t.TempDir())
	addr := freeAddr(t)
	t.Setenv("AUTHD_ENV", "development")
	t.Setenv("DATABASE_URL", dbURL)
	t.Setenv("AUTHD_ADDR", addr)
	t.Setenv("AUTHD_LOG_LEVEL", "error")
	t.Setenv("AUTHD_TLS_CERT_FILE", certFile)
	t.Setenv("AUTHD_TLS_KEY_FILE", keyFile)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, &bytes.Buffer{}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("https://" + addr + "/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || resp.TLS.PeerCertificates[0].SerialNumber.Cmp(pair.Leaf.SerialNumber) != 0 {
				t.Fatalf("readiness: %d over HTTP/%d with serial %s, want 200 over HTTP/2 with %s",
					resp.StatusCode, resp.ProtoMajor, resp.TLS.PeerCertificates[0].SerialNumber, pair.Leaf.SerialNumber)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v", err)
		case <-time.After(50 * time.Millisecond): // polling for start-up, not ordering work
		}
		if time.Now().After(deadline) {
			t.Fatalf("authd did not answer over https in 30 s: %v", err)
		}
	}
	if resp, err := http.Get("http://" + addr + "/readiness"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP answered 200 on the HTTPS address")
		}
	}
	for _, args := range [][]string{{"healthcheck"}, {"healthcheck", "https://" + addr}, {"healthcheck", "https://localhost" + addr[strings.LastIndex(addr, ":"):]}} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err != nil || !strings.HasPrefix(out.String(), "ready: ") {
			t.Errorf("%v: %q, %v", args, out.String(), err)
		}
	}
}

func TestPublicTLS_PlainHTTPInProductionIsLoggedOnce(t *testing.T) {
	t.Parallel()
	for env, want := range map[string]int{config.EnvProduction: 1, config.EnvDevelopment: 0} {
		var logs bytes.Buffer
		c, err := publicTLS(config.Config{Env: env, Addr: ":8080"}, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil || c != nil {
			t.Fatalf("%s without TLS files: %v, %v", env, c, err)
		}
		if n := strings.Count(logs.String(), "TLS must be terminated in front"); n != want {
			t.Errorf("%s: %d lines about plain HTTP, want %d:\n%s", env, n, want, logs.String())
		}
	}
}

func TestPublicTLS_OffersHTTP2AndTLS12AtLeast(t *testing.T) {
	t.Parallel()
	certFile, keyFile := testcert.NewAuthority(t).Issue(t).Write(t, t.TempDir())
	c, err := publicTLS(config.Config{Env: config.EnvProduction, TLSCertFile: certFile, TLSKeyFile: keyFile}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS12 || len(c.NextProtos) != 2 || c.NextProtos[0] != "h2" || c.GetCertificate == nil || c.Certificates != nil {
		t.Errorf("TLS configuration: min %x, protocols %v, GetCertificate %v, %d fixed certificates", c.MinVersion, c.NextProtos, c.GetCertificate != nil, len(c.Certificates))
	}
}

// TestHealthcheck_SkipsVerificationOnlyOnThisHost: the self-check cannot
// verify a certificate issued for the public name; any other host is verified.
func TestHealthcheck_SkipsVerificationOnlyOnThisHost(t *testing.T) {
	t.Parallel()
	for raw, skip := range map[string]bool{
		"https://localhost:8080":         true,
		"https://127.0.0.1:8080":         true,
		"https://[::1]:8080":             true,
		"https://0.0.0.0:8080":           true,
		"https://auth.example.com":       false,
		"https://10.0.0.7:8080":          false,
		"https://localhost.example.com/": false,
		"http://localhost:8080":          false,
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		c := probeClient(u)
		skipped := c != http.DefaultClient && c.Transport.(*http.Transport).TLSClientConfig.InsecureSkipVerify
		if skipped != skip {
			t.Errorf("%s: verification skipped %v, want %v", raw, skipped, skip)
		}
	}
}

func TestServerErrorLog_HandshakeFailuresAreDebug(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	l := serverErrorLog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l.Printf("http: TLS handshake error from 203.0.113.7:5000: EOF")
	l.Printf("http: Accept error: too many open files")
	if got := logs.String(); !strings.Contains(got, `level=DEBUG msg="http: TLS handshake error`) || !strings.Contains(got, `level=WARN msg="http: Accept error`) {
		t.Errorf("server log:\n%s", got)
	}
}
