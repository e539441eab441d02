package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authd/authd/server/testkit/testcert"
)

func TestLoad_TLSFilesComeInReadablePairs(t *testing.T) {
	t.Parallel()
	ca := testcert.NewAuthority(t)
	pair, other := ca.Issue(t), ca.Issue(t)
	dir := t.TempDir()
	certFile, keyFile := pair.Write(t, dir)
	otherKey := filepath.Join(dir, "other.key")
	if err := os.WriteFile(otherKey, other.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")

	cfg, err := Load(production(t, map[string]string{"AUTHD_TLS_CERT_FILE": certFile, "AUTHD_TLS_KEY_FILE": keyFile}))
	if err != nil || !cfg.TLSEnabled() {
		t.Fatalf("a valid pair: TLS %v, err %v", cfg.TLSEnabled(), err)
	}
	if cfg, err := Load(dev(nil)); err != nil || cfg.TLSEnabled() {
		t.Errorf("no TLS files: TLS %v, err %v", cfg.TLSEnabled(), err)
	}
	for _, c := range []struct {
		name, cert, key string
		want            []string
	}{
		{"certificate alone", certFile, "", []string{"AUTHD_TLS_KEY_FILE: is required with AUTHD_TLS_CERT_FILE"}},
		{"key alone", "", keyFile, []string{"AUTHD_TLS_CERT_FILE: is required with AUTHD_TLS_KEY_FILE"}},
		{"neither readable", missing, missing, []string{"AUTHD_TLS_CERT_FILE: cannot be read", "AUTHD_TLS_KEY_FILE: cannot be read"}},
		{"key of another certificate", certFile, otherKey, []string{"AUTHD_TLS_CERT_FILE, AUTHD_TLS_KEY_FILE: not a certificate"}},
		{"swapped", keyFile, certFile, []string{"AUTHD_TLS_CERT_FILE, AUTHD_TLS_KEY_FILE: not a certificate"}},
	} {
		// Reported with the other problems, all at once.
		_, err := Load(dev(map[string]string{"AUTHD_TLS_CERT_FILE": c.cert, "AUTHD_TLS_KEY_FILE": c.key, "AUTHD_LOG_LEVEL": "loud"}))
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		for _, want := range append(c.want, "AUTHD_LOG_LEVEL") {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error does not say %q:\n%v", c.name, want, err)
			}
		}
	}
}

// A key others may read, or anyone but its owner may replace (the reload
// would serve their pair), is refused in production; group-read, as
// Kubernetes mounts a Secret for an fsGroup, is not.
func TestLoad_ProductionRefusesATLSKeyOthersCanReadOrReplace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := testcert.NewAuthority(t).Issue(t).Write(t, dir)
	env := map[string]string{"AUTHD_TLS_CERT_FILE": certFile, "AUTHD_TLS_KEY_FILE": keyFile}
	for _, c := range []struct {
		key, cert os.FileMode
		refused   string // "" when accepted
	}{
		{0o600, 0o644, ""},
		{0o640, 0o644, ""},
		{0o644, 0o644, "AUTHD_TLS_KEY_FILE"},
		{0o620, 0o644, "AUTHD_TLS_KEY_FILE"},
		{0o600, 0o666, "AUTHD_TLS_CERT_FILE"},
	} {
		if err := os.Chmod(keyFile, c.key); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(certFile, c.cert); err != nil {
			t.Fatal(err)
		}
		_, err := Load(production(t, env))
		switch {
		case c.refused == "" && err != nil:
			t.Errorf("key %04o, certificate %04o: refused: %v", c.key, c.cert, err)
		case c.refused != "" && (err == nil || !strings.Contains(err.Error(), c.refused+": ")):
			t.Errorf("key %04o, certificate %04o: want %s refused, got %v", c.key, c.cert, c.refused, err)
		}
		if _, err := Load(dev(env)); err != nil {
			t.Errorf("development, key %04o, certificate %04o: refused: %v", c.key, c.cert, err)
		}
	}
}
