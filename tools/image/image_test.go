package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/jackc/pgx/v5"
)

// maxCompressed is the README's goal for the image: what a registry stores
// and a node pulls.
const maxCompressed = 25 << 20

// TestImage opens the tarball `make image` wrote (AUTHD_IMAGE; without it
// the test builds one), checks its config, unpacks its layers and runs
// authd from them against PostgreSQL, as the image's user and, when the
// test runs as root, chrooted into the unpacked image: the image proven
// to work without a container runtime.
func TestImage(t *testing.T) {
	img := loadImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	checkConfig(t, cf)
	checkSize(t, img)
	root := unpack(t, img)
	info, err := os.Stat(filepath.Join(root, binaryPath))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Fatalf("%s in the image: %v, mode %v; want an executable", binaryPath, err, info.Mode())
	}
	runImage(t, root, cf)
}

func loadImage(t *testing.T) v1.Image {
	t.Helper()
	path := os.Getenv("AUTHD_IMAGE")
	if path == "" {
		path = buildImage(t)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return img
}

// buildImage does what `make image` does, for a `go test` run on its own.
func buildImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=test", "-o", filepath.Join(dir, "authd"), "./cmd/authd") //nolint:gosec // G204: go build of this repository into a temporary directory
	build.Dir = filepath.Join("..", "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build authd: %v\n%s", err, out)
	}
	tarPath := filepath.Join(dir, "authd-image.tar")
	args := []string{"-binary", filepath.Join(dir, "authd"), "-out", tarPath, "-version", "test", "-revision", "0000000"}
	if err := run(args); err != nil {
		t.Fatal(err)
	}
	return tarPath
}

func checkConfig(t *testing.T, cf *v1.ConfigFile) {
	t.Helper()
	c := cf.Config
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s, want linux/%s", cf.OS, cf.Architecture, runtime.GOARCH)
	}
	if cf.RootFS.Type != "layers" {
		t.Errorf("rootfs type %q, want layers (docker load refuses others)", cf.RootFS.Type)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q, want the numeric nonroot 65532:65532", c.User)
	}
	if !slices.Equal(c.Entrypoint, []string{binaryPath}) || !slices.Equal(c.Cmd, []string{"serve"}) {
		t.Errorf("entrypoint %q cmd %q, want [%s] [serve]", c.Entrypoint, c.Cmd, binaryPath)
	}
	for _, port := range []string{"8080/tcp", "9090/tcp"} {
		if _, ok := c.ExposedPorts[port]; !ok {
			t.Errorf("port %s not exposed: %v", port, c.ExposedPorts)
		}
	}
	for _, want := range []string{"AUTHD_ADDR=:8080", "AUTHD_METRICS_ADDR=:9090"} {
		if !slices.Contains(c.Env, want) {
			t.Errorf("env %q lacks %s", c.Env, want)
		}
	}
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "AUTHD_ENV=") {
			t.Errorf("env sets %s: the image must run in production, authd's default", kv)
		}
	}
	for _, label := range []string{"version", "revision", "source", "title", "created"} {
		if c.Labels["org.opencontainers.image."+label] == "" {
			t.Errorf("label org.opencontainers.image.%s missing: %v", label, c.Labels)
		}
	}
	if c.Healthcheck == nil || !slices.Equal(c.Healthcheck.Test, []string{"CMD", binaryPath, "healthcheck"}) {
		t.Errorf("healthcheck %+v, want authd healthcheck", c.Healthcheck)
	}
}

func checkSize(t *testing.T, img v1.Image) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
	t.Logf("image: %d layer(s), %.1f MB compressed", len(layers), float64(total)/1e6)
	if total > maxCompressed {
		t.Errorf("image is %.1f MB compressed, over the %d MB goal", float64(total)/1e6, maxCompressed>>20)
	}
}

// unpack writes the image's flattened filesystem to a directory, with the
// owners and modes of its tar headers.
func unpack(t *testing.T, img v1.Image) string {
	t.Helper()
	root, err := os.MkdirTemp("", "authd-image-root-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(root) })
	// A container's / is world-readable; MkdirTemp's 0700 would lock the user out.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	rc := mutate.Extract(img)
	defer func() { _ = rc.Close() }()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Clean("/" + h.Name) // no entry escapes root
		path := filepath.Join(root, name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, 0o755) //nolint:gosec // G301: the mode is the tar header's, set just below
		case tar.TypeReg:
			err = writeFile(path, tr)
		default:
			t.Fatalf("unexpected entry %s of type %c in the image", h.Name, h.Typeflag)
		}
		if err == nil {
			err = os.Chmod(path, h.FileInfo().Mode()) // after writing: MkdirAll and umask change modes
		}
		if err == nil && os.Geteuid() == 0 {
			err = os.Lchown(path, h.Uid, h.Gid)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// container runs commands from the unpacked image as a runtime would: the
// image's env, user and root when we may (root), else the binary directly.
type container struct {
	root   string
	env    []string
	chroot bool
}

// path maps a path inside the container to where a command sees it.
func (c container) path(p string) string {
	if c.chroot {
		return p
	}
	return filepath.Join(c.root, p)
}

func (c container) command(argv []string, env ...string) *exec.Cmd {
	cmd := exec.Command(c.path(argv[0]), argv[1:]...) //nolint:gosec // G204: the image's own entrypoint, unpacked by the test
	// Only the image's env and the deployment's: nothing leaks from the host.
	cmd.Env = append(slices.Clone(c.env), env...)
	cmd.Dir = c.path("/")
	if c.chroot {
		cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: c.root, Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	}
	return cmd
}

// mkdirOwned makes a directory inside the container for the image's user,
// as a mounted volume would be.
func (c container) mkdirOwned(t *testing.T, p string) {
	t.Helper()
	dir := filepath.Join(c.root, p)
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: parents the image's user must cross, as in a container
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.chroot {
		if err := os.Chown(dir, 65532, 65532); err != nil {
			t.Fatal(err)
		}
	}
}

func runImage(t *testing.T, root string, cf *v1.ConfigFile) {
	c := container{root: root, env: cf.Config.Env, chroot: os.Geteuid() == 0}
	if !c.chroot {
		t.Log("not root: running the unpacked binary without chroot, as the current user")
	}
	c.mkdirOwned(t, "/run/secrets")
	keys := "/run/secrets/jwt-keys.json"
	if out, err := c.command([]string{binaryPath, "keys", "generate", "-file", c.path(keys)}).CombinedOutput(); err != nil {
		t.Fatalf("authd keys generate: %v\n%s", err, out)
	}
	dataKeys := "/run/secrets/data-keys.json"
	if out, err := c.command([]string{binaryPath, "datakeys", "generate", "-file", c.path(dataKeys)}).CombinedOutput(); err != nil {
		t.Fatalf("authd datakeys generate: %v\n%s", err, out)
	}

	if c.chroot {
		// Nothing left that the user may write, /tmp included: authd runs on
		// a read-only root filesystem (docker run --read-only, Kubernetes's
		// readOnlyRootFilesystem).
		if err := os.Chmod(filepath.Join(root, "tmp"), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	api, metrics := freePort(t), freePort(t)
	deployment := []string{
		// The same form as the image's (":8080"), on ports free here.
		"AUTHD_ADDR=:" + api,
		"AUTHD_METRICS_ADDR=:" + metrics,
		"DATABASE_URL=" + testDatabase(t),
		"AUTHD_JWT_KEYS_FILE=" + c.path(keys),
		"AUTHD_DATA_KEYS_FILE=" + c.path(dataKeys),
		"AUTHD_SMTP_URL=smtp://127.0.0.1:2525",
		"AUTHD_PUBLIC_URL=https://auth.example.test",
	}
	argv := append(slices.Clone(cf.Config.Entrypoint), cf.Config.Cmd...)
	serve := c.command(argv, deployment...)
	var logs syncBuffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	t.Cleanup(func() {
		_ = serve.Process.Kill()
		if err := <-exited; t.Failed() {
			t.Logf("authd (%v), its log:\n%s", err, logs.String())
		}
	})

	waitReady(t, "http://127.0.0.1:"+api+"/readiness", exited)
	// The binary's version (-ldflags -X) is the one the label states.
	info := fmt.Sprintf("authd_build_info{goversion=%q,version=%q}", runtime.Version(), cf.Config.Labels["org.opencontainers.image.version"])
	if body := get(t, "http://127.0.0.1:"+metrics+"/metrics"); !strings.Contains(body, info) {
		t.Errorf("metrics port %s: no %s", metrics, info)
	}
	probe := c.command(cf.Config.Healthcheck.Test[1:], deployment...)
	if out, err := probe.CombinedOutput(); err != nil {
		t.Errorf("the image's healthcheck %q: %v\n%s", cf.Config.Healthcheck.Test, err, out)
	}

	if err := serve.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("authd after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("authd did not stop within 30s of SIGTERM")
	}
}

func waitReady(t *testing.T, url string, exited chan error) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	poll := time.NewTicker(200 * time.Millisecond)
	defer poll.Stop()
	for {
		resp, err := http.Get(url) //nolint:gosec // G107: authd on a loopback port of this test
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		// Poll again on the next tick, unless authd exits or time runs out first.
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("authd exited before it was ready: %v", err)
		case <-deadline:
			t.Fatalf("%s did not answer 200 within 60s (last: %v)", url, describe(resp, err))
		case <-poll.C:
		}
	}
}

func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return resp.Status
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // G107: authd on a loopback port of this test
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(body)
}

// testDatabase creates an empty database for this run on the server of
// TEST_DATABASE_URL (.ci/with-postgres sets it) and returns its URL.
func testDatabase(t *testing.T) string {
	t.Helper()
	admin := os.Getenv("TEST_DATABASE_URL")
	if admin == "" {
		admin = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("PostgreSQL (run the test through .ci/with-postgres): %v", err)
	}
	name := fmt.Sprintf("authd_image_%d", os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		_ = conn.Close(ctx)
	})
	u, err := url.Parse(admin) // the same server and credentials, another database
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
