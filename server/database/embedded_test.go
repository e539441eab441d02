package database_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/authd/authd/server/database"
)

// TestEmbedded_KeepsItsDataAcrossRestarts starts the embedded server from the
// installed binaries on a free port, migrates its database, stops it, starts
// it again and finds the migrations still applied.
func TestEmbedded_KeepsItsDataAcrossRestarts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tmp := t.TempDir()
	// As root the server runs as the postgres user, who must reach the folder
	// (the test's temporary folder and its parent are 0700).
	for _, d := range []string{filepath.Dir(tmp), tmp} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := database.EmbeddedConfig{Dir: filepath.Join(tmp, "postgres"), Port: freePort(t), Database: "authd"}

	migrate := func() int {
		db, err := database.StartEmbedded(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := db.Stop(); err != nil {
				t.Error(err)
			}
		}()
		pool, err := database.Open(ctx, db.URL(), 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		m, err := database.NewMigrator(pool)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = m.Close() }()
		n, err := m.Up(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := migrate(); n == 0 {
		t.Fatal("first start: no migration applied to a new database")
	}
	if n := migrate(); n != 0 {
		t.Fatalf("second start applied %d migrations: the data did not survive the restart", n)
	}
	if os.Geteuid() == 0 {
		ownersAsRoot(t, cfg.Dir)
	}
	if _, err := net.Dial("tcp", net.JoinHostPort("localhost", strconv.Itoa(int(cfg.Port)))); err == nil {
		t.Fatal("the server still answers after Stop")
	}
}

// ownersAsRoot: run as root, the postgres user owns the server's db/ alone;
// what root runs or writes (the wrappers, run/ with initdb's password file,
// the log) stays root's, so that user can swap nothing root would follow.
func ownersAsRoot(t *testing.T, dir string) {
	t.Helper()
	owner := func(p string) uint32 {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Sys().(*syscall.Stat_t).Uid
	}
	for _, p := range []string{dir, filepath.Join(dir, "as-postgres"), filepath.Join(dir, "as-postgres", "bin", "pg_ctl"), filepath.Join(dir, "run"), filepath.Join(dir, "postgres.log")} {
		if uid := owner(p); uid != 0 {
			t.Errorf("%s belongs to uid %d, want root", p, uid)
		}
	}
	if uid := owner(filepath.Join(dir, "db")); uid == 0 {
		t.Errorf("db/ belongs to root: the postgres user could not write its data")
	}
}

func TestEmbedded_WithoutBinariesSaysWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no pg_ctl on PATH either
	_, err := database.StartEmbedded(database.EmbeddedConfig{Dir: t.TempDir(), Port: 1, Database: "authd", BinDirs: []string{t.TempDir()}})
	if !errors.Is(err, database.ErrNoPostgreSQL) {
		t.Fatalf("err = %v, want ErrNoPostgreSQL", err)
	}
	if got := err.Error(); got != "no PostgreSQL found for the development database: install it (apt-get install postgresql) or set DATABASE_URL" {
		t.Fatalf("message = %q", got)
	}
}

func TestEmbedded_RefusesDataOfAnotherMajorVersion(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "db", "data"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "db", "data", "PG_VERSION"), []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := database.StartEmbedded(database.EmbeddedConfig{Dir: dir, Port: 1, Database: "authd"})
	if err == nil || errors.Is(err, database.ErrNoPostgreSQL) {
		t.Fatalf("err = %v, want a refusal of PostgreSQL 9 data", err)
	}
	if _, statErr := os.Stat(filepath.Join(dir, "db", "data", "PG_VERSION")); statErr != nil {
		t.Fatalf("the old data was touched: %v", statErr)
	}
}

// freePort asks the kernel for a port nobody uses now.
func freePort(t *testing.T) uint32 {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return uint32(l.Addr().(*net.TCPAddr).Port) //nolint:gosec // a port fits
}
