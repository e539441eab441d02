// Command image writes authd's container image as a tarball, with no
// container daemon and no base image to download: a static authd binary on
// an empty base, assembled with go-containerregistry. The tarball is in
// `docker save` format, which both `docker load` and `podman load` read.
//
//	go -C tools/image run . -binary BIN -out TAR -version V -revision R -created UNIX -arch amd64
//
// `make image` runs it; image_test.go checks the result.
package main

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binary := fs.String("binary", "", "static Linux authd binary")
	out := fs.String("out", "", "tarball to write")
	m := Meta{}
	fs.StringVar(&m.Version, "version", "dev", "org.opencontainers.image.version, and the tag")
	fs.StringVar(&m.Revision, "revision", "", "org.opencontainers.image.revision (the git commit)")
	fs.StringVar(&m.Source, "source", "https://github.com/authd/authd", "org.opencontainers.image.source")
	fs.StringVar(&m.Arch, "arch", runtime.GOARCH, "the binary's architecture")
	created := fs.Int64("created", 0, "creation time in Unix seconds (the commit's, for a reproducible digest)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *out == "" {
		return fmt.Errorf("-binary and -out are required")
	}
	m.Created = time.Unix(*created, 0).UTC()
	data, err := readBinary(*binary, m.Arch)
	if err != nil {
		return err
	}
	img, err := Build(data, m)
	if err != nil {
		return err
	}
	if err := write(*out, img, m.Version); err != nil {
		return err
	}
	return report(*out, img)
}

// write tags the image authd:VERSION and authd:latest.
func write(path string, img v1.Image, version string) error {
	refs := map[name.Reference]v1.Image{}
	for _, tag := range []string{tagFor(version), "latest"} {
		ref, err := name.NewTag("authd:" + tag)
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	return tarball.MultiRefWriteToFile(path, refs)
}

var notInTag = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// tagFor turns a version (git describe: v1.2.0-3-gabc-dirty) into a valid
// tag: at most 128 characters of [A-Za-z0-9_.-], not starting with . or -.
func tagFor(version string) string {
	t := notInTag.ReplaceAllString(version, "_")
	if t == "" || t[0] == '.' || t[0] == '-' {
		t = "v" + t
	}
	return t[:min(len(t), 128)]
}

func report(path string, img v1.Image) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	var compressed int64
	for _, l := range layers {
		n, err := l.Size()
		if err != nil {
			return err
		}
		compressed += n
	}
	fmt.Printf("image: wrote %s (%s), %.1f MB compressed layers; load it with `docker load -i %s` or `podman load -i %s`\n",
		path, digest, float64(compressed)/1e6, path, path)
	return nil
}
