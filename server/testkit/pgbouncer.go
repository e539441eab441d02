package testkit

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
)

// PgBouncerInstall is what to run when the pgbouncer binary is missing.
const PgBouncerInstall = "apt-get install -y pgbouncer"

// PgBouncer is Debian's pgbouncer in transaction pooling mode on a free
// loopback port, in front of the test PostgreSQL server.
type PgBouncer struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	exit error

	stderr LogBuffer
}

// StartPgBouncer starts a PgBouncer in front of the server of
// TEST_DATABASE_URL that pools at most poolSize server connections per
// database, waits until it answers a query and stops it when the test ends.
// A missing binary fails the test with the command that installs it.
func StartPgBouncer(t testing.TB, poolSize int) *PgBouncer {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		bin = "/usr/sbin/pgbouncer" // Debian's, outside a non-root PATH
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("pgbouncer is not installed: run `%s` (make test installs it when run as root)", PgBouncerInstall)
		}
	}
	server, err := url.Parse(serverURL())
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: its parent is private to us, and pgbouncer may run as
	// another user.
	dir, err := os.MkdirTemp("", "authd-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	p := &PgBouncer{addr: freeAddr(t), dir: dir, done: make(chan struct{})}
	if err := p.writeConfig(server, poolSize); err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(bin, filepath.Join(p.dir, "pgbouncer.ini"))
	p.cmd.Stderr = &p.stderr // what it says before its log file is open
	if err := runAsUnprivileged(p.cmd, p.dir); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exit = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	WaitUntil(t, 30*time.Second, 20*time.Millisecond, func() bool {
		select {
		case <-p.done:
			t.Fatalf("pgbouncer exited at start (%v):\n%s", p.exit, p.log())
		default:
		}
		return p.answers(p.URL(server.String()))
	}, func() string { return "pgbouncer did not accept connections within 30s:\n" + p.log() })
	return p
}

// serverURL is the test server's URL, as CreateDatabase uses it.
func serverURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultTestDatabaseURL
}

// writeConfig writes pgbouncer.ini and its user list into p.dir.
func (p *PgBouncer) writeConfig(server *url.URL, poolSize int) error {
	host, port, err := net.SplitHostPort(server.Host)
	if err != nil {
		host, port = server.Hostname(), "5432"
	}
	name := server.User.Username()
	pass, _ := server.User.Password()
	target := fmt.Sprintf("host=%s port=%s user=%s", host, port, name)
	if pass != "" {
		target += " password=" + pass
	}
	_, listenPort, err := net.SplitHostPort(p.addr)
	if err != nil {
		return err
	}
	// Clients are trusted (loopback only); "*" serves every database of
	// the server under its own name, so each test database is reachable.
	ini := strings.Join([]string{
		"[databases]",
		"* = " + target,
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		"listen_port = " + listenPort,
		"unix_socket_dir =",
		"auth_type = trust",
		"auth_file = " + filepath.Join(p.dir, "users.txt"),
		"pool_mode = transaction",
		"default_pool_size = " + strconv.Itoa(poolSize),
		"max_client_conn = 1000",
		"logfile = " + filepath.Join(p.dir, "pgbouncer.log"),
		"pidfile = " + filepath.Join(p.dir, "pgbouncer.pid"),
		"",
	}, "\n")
	// trust still wants the user listed.
	files := map[string]string{"pgbouncer.ini": ini, "users.txt": fmt.Sprintf("%q \"\"\n", name)}
	for f, content := range files {
		if err := os.WriteFile(filepath.Join(p.dir, f), []byte(content), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// unprivilegedUser is who runs pgbouncer when the tests run as root, which
// pgbouncer refuses: the user Debian's PostgreSQL runs as.
const unprivilegedUser = "postgres"

// lookupUnprivileged returns unprivilegedUser's ids, having given it dir
// and the files in it, so that pgbouncer can read its config and write its
// log as that user.
func lookupUnprivileged(dir string) (uid, gid uint32, err error) {
	u, err := user.Lookup(unprivilegedUser)
	if err != nil {
		return 0, 0, fmt.Errorf("pgbouncer refuses to run as root and there is no %q user to run it as: %w", unprivilegedUser, err)
	}
	id, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return 0, 0, err
	}
	group, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return 0, 0, err
	}
	for _, path := range []string{dir, filepath.Join(dir, "pgbouncer.ini"), filepath.Join(dir, "users.txt")} {
		if err := os.Chown(path, int(id), int(group)); err != nil {
			return 0, 0, err
		}
	}
	return uint32(id), uint32(group), nil
}

// answers reports whether a query through the bouncer reaches PostgreSQL.
func (p *PgBouncer) answers(pooledURL string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, pooledURL)
	if err != nil {
		return false
	}
	defer func() { _ = conn.Close(ctx) }()
	_, err = conn.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol)
	return err == nil
}

// PgBouncerURLSetting is what docs/deploy.md ("Behind PgBouncer") has a
// DATABASE_URL add when it points at a transaction-pooling PgBouncer: pgx
// then sends each query with unnamed statements in one round trip instead
// of preparing named statements in whichever server session it lands in.
const PgBouncerURLSetting = "default_query_exec_mode=exec"

// Pooled is direct pointed at the bouncer with PgBouncerURLSetting, as a
// deployment behind PgBouncer writes its DATABASE_URL.
func (p *PgBouncer) Pooled(direct string) string {
	u, err := url.Parse(p.URL(direct))
	if err != nil {
		return direct
	}
	q := u.Query()
	setting, value, _ := strings.Cut(PgBouncerURLSetting, "=")
	q.Set(setting, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database makes the app reach this test binary's database through the
// bouncer: its queries, its readiness and its migrations, which it runs
// (none are pending, but the lock is taken and released through the
// pooler).
func (p *PgBouncer) Database(t testing.TB) Option {
	t.Helper()
	return p.through(t, DatabaseURL())
}

// IsolatedDatabase gives the app a database of its own, created directly,
// then migrated and used through the bouncer, for tests whose outbox must
// not be drained by other tests' workers.
func (p *PgBouncer) IsolatedDatabase(t testing.TB) Option {
	t.Helper()
	direct, drop, err := CreateDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	return p.through(t, direct)
}

func (p *PgBouncer) through(t testing.TB, direct string) Option {
	t.Helper()
	ctx := context.Background()
	pool, err := database.Open(ctx, p.Pooled(direct), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	mig, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mig.Close() })
	if _, err := mig.Up(ctx); err != nil {
		t.Fatalf("migrate through pgbouncer: %v", err)
	}
	cfg := testConfig(t, "", "")
	return func(d *server.Deps) {
		d.DB = server.GuardDatabase(cfg, pool, d.Log)
		d.Migrations = mig
	}
}

// URL is direct, a postgres:// URL of the test server, pointed at the
// bouncer instead: same user, database and parameters.
func (p *PgBouncer) URL(direct string) string {
	u, err := url.Parse(direct)
	if err != nil {
		return direct
	}
	u.Host = p.addr
	return u.String()
}

func (p *PgBouncer) log() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "pgbouncer.log"))
	return p.stderr.String() + string(b)
}

// stop asks for an immediate shutdown (SIGTERM) and kills the process if it
// lingers.
func (p *PgBouncer) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
