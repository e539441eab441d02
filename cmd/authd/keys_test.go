package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/config"
)

func TestServe_StartUpLogsTheSigningKid(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	if err := run(context.Background(), []string{"keys", "generate", "-file", path}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"keys", "add", "-file", path}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	file := loadFile(t, path)
	var logs bytes.Buffer
	if _, err := server.LoadKeys(config.Config{JWTKeysFile: path}, slog.New(slog.NewJSONHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	added := file.List()[1]
	for _, want := range []string{`"signing_kid":"` + file.Signer() + `"`, `{"kid":"` + added.Kid + `","alg":"EdDSA","status":"verify-only"}`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("start-up log lacks %s:\n%s", want, logs.String())
		}
	}
}
