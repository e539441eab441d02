package database

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	embeddedpostgres "github.com/fergusstrange/embedded-postgres"
)

// ErrNoPostgreSQL means no PostgreSQL server binaries were found to run the
// embedded database; its text is the one line a developer needs.
var ErrNoPostgreSQL = errors.New("no PostgreSQL found for the development database: install it (apt-get install postgresql) or set DATABASE_URL")

// EmbeddedConfig says where an embedded PostgreSQL keeps its files and listens.
type EmbeddedConfig struct {
	// Dir holds the server's files: db/data/ survives restarts, run/ does not.
	Dir      string
	Port     uint32
	Database string
	// BinDirs are the folders searched for initdb and pg_ctl, in order,
	// before PATH; nil means Debian's /usr/lib/postgresql/<version>/bin,
	// newest first.
	BinDirs []string
}

// Embedded is a PostgreSQL server whose lifetime is its starter's: authd's
// development database when no other is at hand. It runs the binaries
// installed on the machine and never downloads any.
type Embedded struct {
	pg      *embeddedpostgres.EmbeddedPostgres
	log     *os.File
	url     string
	Version string // the server's major version, e.g. "15"
}

// StartEmbedded starts the server, creating its data folder and database on
// the first start. PostgreSQL refuses to run as root, so as root it runs as
// the postgres user (see asPostgres).
func StartEmbedded(cfg EmbeddedConfig) (*Embedded, error) {
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, err
	}
	binDir, err := findPostgres(cfg.BinDirs)
	if err != nil {
		return nil, err
	}
	version, err := majorVersion(binDir)
	if err != nil {
		return nil, err
	}
	// dir is ours (as root: root's, so that the postgres user can change
	// nothing that root then runs or writes); db/ is the server's.
	db := filepath.Join(dir, "db")
	data := filepath.Join(db, "data")
	if err := checkDataVersion(data, version); err != nil {
		return nil, err
	}
	// Parents stay open to the postgres user (see asPostgres), who may pass
	// through dir but not list it.
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil { //nolint:gosec // G301: the postgres user must pass through
		return nil, err
	}
	for _, d := range []string{dir, db} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
	}
	// The library runs <root>/bin/pg_ctl and <root>/bin/initdb.
	root := filepath.Dir(binDir)
	if os.Geteuid() == 0 {
		if root, err = asPostgres(dir, db, binDir); err != nil {
			return nil, err
		}
	}
	stopLeftover(root, data)
	log, err := os.OpenFile(filepath.Join(dir, "postgres.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600) //nolint:gosec // G304: our own folder
	if err != nil {
		return nil, err
	}
	const user, password = "postgres", "postgres" // a local development server
	pg := embeddedpostgres.NewDatabase(embeddedpostgres.DefaultConfig().
		Version(embeddedpostgres.PostgresVersion(version)). // matches data/PG_VERSION, so data is kept
		BinariesPath(root).                                 // holds bin/pg_ctl, so nothing is downloaded
		RuntimePath(filepath.Join(dir, "run")).             // emptied on every start
		DataPath(data).
		CachePath(filepath.Join(dir, "run")).
		Port(cfg.Port).
		Database(cfg.Database).
		Username(user).
		Password(password).
		Locale("C").
		Encoding("UTF8").
		// TCP only: the default socket folder may not be writable by us.
		StartParameters(map[string]string{"unix_socket_directories": "", "listen_addresses": "localhost"}).
		StartTimeout(time.Minute).
		Logger(log))
	if err := pg.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start the embedded PostgreSQL (log: %s): %w", log.Name(), err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: "localhost:" + strconv.Itoa(int(cfg.Port)), Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
	return &Embedded{pg: pg, log: log, url: u.String(), Version: version}, nil
}

// URL is the connection URL of the server's database (it holds a password).
func (e *Embedded) URL() string { return e.url }

// Stop shuts the server down, waiting for it to exit.
func (e *Embedded) Stop() error {
	err := e.pg.Stop()
	return errors.Join(err, e.log.Close())
}

// findPostgres returns the first folder holding initdb and pg_ctl: one of
// dirs, else pg_ctl's on PATH.
func findPostgres(dirs []string) (string, error) {
	if dirs == nil {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		dirs = newestFirst(found)
	}
	for _, d := range dirs {
		if isFile(filepath.Join(d, "pg_ctl")) && isFile(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil && isFile(filepath.Join(filepath.Dir(p), "initdb")) {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoPostgreSQL
}

// newestFirst orders /usr/lib/postgresql/<version>/bin by version, newest first.
func newestFirst(dirs []string) []string {
	version := func(d string) int {
		n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		return n
	}
	out := slices.Clone(dirs)
	slices.SortFunc(out, func(a, b string) int { return version(b) - version(a) })
	return out
}

var versionLine = regexp.MustCompile(`\(PostgreSQL\) (\d+)`)

// majorOnly is what a data folder's PG_VERSION holds (nothing else of that
// file is ever repeated in a message).
var majorOnly = regexp.MustCompile(`^\d{1,3}$`)

// majorVersion asks pg_ctl (which answers --version even as root).
func majorVersion(binDir string) (string, error) {
	out, err := exec.Command(filepath.Join(binDir, "pg_ctl"), "--version").Output() //nolint:gosec // G204: a binary we found, no user input
	if err != nil {
		return "", fmt.Errorf("%s/pg_ctl --version: %w", binDir, err)
	}
	m := versionLine.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("%s/pg_ctl --version: unexpected answer %q", binDir, strings.TrimSpace(string(out)))
	}
	return string(m[1]), nil
}

// checkDataVersion refuses data from another major version: the library would
// otherwise wipe it and start afresh.
func checkDataVersion(data, version string) error {
	b, err := os.ReadFile(filepath.Join(data, "PG_VERSION")) //nolint:gosec // G304: our own folder
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	have := strings.TrimSpace(string(b))
	if !majorOnly.MatchString(have) {
		return fmt.Errorf("%s/PG_VERSION does not hold a PostgreSQL version: remove the folder to start afresh", data)
	}
	if have != version {
		return fmt.Errorf("%s holds PostgreSQL %s data but PostgreSQL %s is installed: install %s, or remove the folder to start afresh (its accounts are lost)", data, have, version, have)
	}
	return nil
}

// stopLeftover stops a server that a previous run, killed before it could stop
// it, left running on this data folder. Nothing to stop is not an error.
func stopLeftover(root, data string) {
	if isFile(filepath.Join(data, "postmaster.pid")) {
		_ = exec.Command(filepath.Join(root, "bin", "pg_ctl"), "stop", "-w", "-m", "fast", "-D", data).Run() //nolint:gosec // G204: our own paths
	}
}

// asPostgres prepares, for a process running as root, a folder whose bin/
// holds initdb and pg_ctl wrappers that run the real ones as the postgres
// user (PostgreSQL refuses root), and gives db to that user. It returns the
// folder to use as the binaries' root. Everything root runs or writes (the
// wrappers, run/ with initdb's password file, the log) stays in dir, which
// root keeps: the postgres user owns db alone, so it cannot swap a wrapper
// or plant a link that root would follow.
func asPostgres(dir, db, binDir string) (string, error) {
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		return "", errors.New("running as root, the development database needs the postgres user to run PostgreSQL (apt-get install postgresql creates it), or set DATABASE_URL")
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	if err := os.Chown(dir, 0, 0); err != nil { // reclaimed, should a user have been given it
		return "", err
	}
	if err := os.Chmod(dir, 0o711); err != nil { //nolint:gosec // G302: the postgres user passes through to db
		return "", err
	}
	if err := os.Chown(db, uid, gid); err != nil {
		return "", err
	}
	if exec.Command("runuser", "-u", "postgres", "--", "test", "-w", db).Run() != nil { //nolint:gosec // G204: our own folder
		return "", fmt.Errorf("running as root, the postgres user cannot reach %s (a parent folder is closed to it): clone authd under a readable path, run as another user, or set DATABASE_URL", db)
	}
	root := filepath.Join(dir, "as-postgres")
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil { //nolint:gosec // G301: the postgres user runs what is inside
		return "", err
	}
	// The library writes initdb's password file as root, mode 0600, in run/
	// (root's); -h changes a link itself, never what it points to.
	pwfile := filepath.Join(dir, "run", "pwfile")
	for _, name := range []string{"initdb", "pg_ctl"} {
		script := "#!/bin/sh\n# PostgreSQL refuses root: run " + name + " as the postgres user.\n" +
			"if [ -f " + quote(pwfile) + " ]; then chown -h postgres " + quote(pwfile) + "; fi\n" +
			"exec runuser -u postgres -- " + quote(filepath.Join(binDir, name)) + ` "$@"` + "\n"
		if err := os.WriteFile(filepath.Join(root, "bin", name), []byte(script), 0o755); err != nil { //nolint:gosec // G306: an executable wrapper
			return "", err
		}
	}
	return root, nil
}

// quote makes s one single-quoted shell word.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}
