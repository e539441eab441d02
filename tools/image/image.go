package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image promises; the test checks each against the written tarball.
const (
	binaryPath  = "/usr/local/bin/authd"
	user        = "65532:65532" // distroless's "nonroot": no name lookup needed
	apiPort     = "8080"
	metricsPort = "9090"
)

// Meta describes the build; it becomes the OCI labels and the creation time.
type Meta struct {
	Version  string
	Revision string
	Source   string
	Arch     string
	// Created is the commit's time, not the build's, so that one commit
	// always gives the same image digest.
	Created time.Time
}

// Build assembles the image: the binary and the few files an empty base
// lacks, in one layer, and a config that runs `authd serve` as nonroot.
func Build(binary []byte, m Meta) (v1.Image, error) {
	files, err := rootfs(binary, m.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(files)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression),
		tarball.WithCompressedCaching) // compress once, not for the digest and again for the tarball
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: m.Arch,
		OS:           "linux",
		Config:       config(m),
		RootFS:       v1.RootFS{Type: "layers"}, // docker load refuses any other; Append fills in the diff IDs
	})
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: m.Created}, CreatedBy: "make image (tools/image)", Comment: "authd " + m.Version},
	})
	if err != nil {
		return nil, err
	}
	return mutate.CreatedAt(img, v1.Time{Time: m.Created})
}

func config(m Meta) v1.Config {
	return v1.Config{
		User:       user,
		Entrypoint: []string{binaryPath},
		// serve as the command, not in the entrypoint, so that
		// `docker run IMAGE migrate status` runs the other subcommands.
		Cmd:        []string{"serve"},
		WorkingDir: "/",
		// No AUTHD_ENV: authd defaults to production and refuses to start
		// without its keys, SMTP and an https public URL.
		Env: []string{
			"PATH=/usr/local/bin",
			"AUTHD_ADDR=:" + apiPort,
			"AUTHD_METRICS_ADDR=:" + metricsPort,
		},
		ExposedPorts: map[string]struct{}{apiPort + "/tcp": {}, metricsPort + "/tcp": {}},
		StopSignal:   "SIGTERM",
		// Docker runs it; Kubernetes uses its own probes on /health and /readiness.
		Healthcheck: &v1.HealthConfig{
			Test:        []string{"CMD", binaryPath, "healthcheck"},
			Interval:    10 * time.Second,
			Timeout:     3 * time.Second,
			StartPeriod: 10 * time.Second,
			Retries:     3,
		},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "authd",
			"org.opencontainers.image.description": "authd: authentication service (accounts, sessions, JWT access tokens)",
			"org.opencontainers.image.version":     m.Version,
			"org.opencontainers.image.revision":    m.Revision,
			"org.opencontainers.image.source":      m.Source,
			"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
		},
	}
}

// rootfs is the layer's tar: the binary, owned by root so that the nonroot
// user cannot replace it, and the few files an empty base lacks: /tmp (Go's
// os.TempDir), /etc/passwd and /etc/group naming the user for tools that
// look it up, and /etc/hosts for localhost.
func rootfs(binary []byte, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: mtime})
	}
	file := func(name string, mode int64, uid int, data []byte) error {
		h := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Uid: uid, Gid: uid, Size: int64(len(data)), ModTime: mtime}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	steps := []func() error{
		func() error { return dir("etc/", 0o755) },
		func() error {
			return file("etc/passwd", 0o644, 0, []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:authd:/nonexistent:/sbin/nologin\n"))
		},
		func() error { return file("etc/group", 0o644, 0, []byte("root:x:0:\nnonroot:x:65532:\n")) },
		// Runtimes mount their own; without any, `authd healthcheck` could
		// not resolve the localhost it asks.
		func() error { return file("etc/hosts", 0o644, 0, []byte("127.0.0.1 localhost\n::1 localhost\n")) },
		func() error { return dir("tmp/", 0o1777) },
		func() error { return dir("usr/", 0o755) },
		func() error { return dir("usr/local/", 0o755) },
		func() error { return dir("usr/local/bin/", 0o755) },
		func() error { return file(binaryPath[1:], 0o755, 0, binary) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, fmt.Errorf("image layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readBinary reads the binary and refuses what cannot run on an empty base:
// anything but a Linux executable for arch, or one linked dynamically (built
// with cgo), which would look for a libc the image does not have.
func readBinary(path, arch string) ([]byte, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (build it with GOOS=linux)", path, err)
	}
	defer func() { _ = f.Close() }()
	if want, ok := elfMachines[arch]; !ok || f.Machine != want {
		return nil, fmt.Errorf("%s is built for %s, not %s", path, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is linked dynamically: build it with CGO_ENABLED=0", path)
		}
	}
	return os.ReadFile(path) //nolint:gosec // G304: the binary make image names, read for the image
}

var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
