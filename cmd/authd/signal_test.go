package main

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authd/authd/server/testkit"
)

// TestMain_CtrlCExitsZero: the built binary, interrupted as Ctrl-C does, shuts
// down and exits 0, so `make run` (which runs the binary, not `go run`, whose
// own status is 1 after any interrupt) ends without an error.
func TestMain_CtrlCExitsZero(t *testing.T) {
	dbURL := newDatabaseURL(t, "authd_test_sigint_")
	bin := filepath.Join(t.TempDir(), "authd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil { //nolint:gosec // G204: go build of this package into a temporary directory
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve") //nolint:gosec // G204: the binary just built
	cmd.Dir = t.TempDir()             // no .env from the working tree
	cmd.Env = append(os.Environ(), "AUTHD_ENV=development", "DATABASE_URL="+dbURL, "AUTHD_ADDR="+addr, "AUTHD_METRICS_ADDR=")
	var logs strings.Builder
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitUntil(t, 30*time.Second, 50*time.Millisecond, func() bool {
		resp, err := http.Get("http://" + addr + "/health") //nolint:gosec // G107: authd on a loopback port of this test
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return true
	}, func() string { _ = cmd.Process.Kill(); return "authd never answered:\n" + logs.String() })
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("after SIGINT: %v, want exit 0\n%s", err, logs.String())
	}
}
