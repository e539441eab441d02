package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun_BadSettingsStopAuthdBeforeTheDatabase: an empty keys file, a bad
// REDIS_URL and broken templates are reported together by serve and
// migrate, before either touches the database (here nothing listens on it,
// so reaching it would fail differently).
func TestRun_BadSettingsStopAuthdBeforeTheDatabase(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keys, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTHD_ENV", "development")
	t.Setenv("DATABASE_URL", "postgres://authd@127.0.0.1:1/authd")
	t.Setenv("AUTHD_JWT_KEYS_FILE", keys)
	t.Setenv("REDIS_URL", "redis://cache:6379/zero")
	t.Setenv("AUTHD_MAIL_TEMPLATES_DIR", filepath.Join(dir, "missing"))
	for _, args := range [][]string{{"serve"}, {"migrate", "up"}} {
		err := run(context.Background(), args, &bytes.Buffer{})
		if err == nil {
			t.Fatalf("%v: started with bad settings", args)
		}
		for _, want := range []string{"invalid configuration", "AUTHD_JWT_KEYS_FILE", "REDIS_URL", "AUTHD_MAIL_TEMPLATES_DIR"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%v: error does not say %s:\n%v", args, want, err)
			}
		}
		if strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%v: the database was tried:\n%v", args, err)
		}
	}
}
