package main

import (
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

// The embedded development database keeps its files in the working folder
// (`make run` runs in the repository, where .gitignore lists .data/) and
// listens beside 5432, which stays free for a PostgreSQL installed later.
const (
	devDatabaseDir  = ".data/postgres"
	devDatabasePort = 54329
)

// wantsEmbeddedDatabase reports whether serve starts the embedded database:
// in development only, when DATABASE_URL is not set and nothing listens where
// the default URL points (127.0.0.1:5432). Production never does.
func wantsEmbeddedDatabase(cfg config.Config, env map[string]string, listening func(addr string) bool) bool {
	if !cfg.Development() || env["DATABASE_URL"] != "" {
		return false
	}
	u, err := url.Parse(cfg.DatabaseURL)
	return err == nil && !listening(u.Host)
}

// listening reports whether something accepts TCP connections on addr.
func listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// startDevDatabase starts the embedded PostgreSQL from the installed binaries.
func startDevDatabase(log *slog.Logger) (*database.Embedded, error) {
	log.Info("no DATABASE_URL and no PostgreSQL on 127.0.0.1:5432: starting an embedded one", "data", devDatabaseDir)
	started := time.Now()
	db, err := database.StartEmbedded(database.EmbeddedConfig{Dir: devDatabaseDir, Port: devDatabasePort, Database: "authd"})
	if err != nil {
		return nil, err
	}
	log.Info("embedded PostgreSQL started", "version", db.Version, "took", time.Since(started).Round(time.Millisecond).String())
	return db, nil
}

// stopDevDatabase stops it when authd exits.
func stopDevDatabase(db *database.Embedded, log *slog.Logger) {
	if err := db.Stop(); err != nil {
		log.Error("stop the embedded PostgreSQL", "err", err)
		return
	}
	log.Info("embedded PostgreSQL stopped")
}

// databaseForLog names the database a URL points at, never its password or
// its parameters (which may hold one).
func databaseForLog(raw string) string {
	// Built from what pgx reads, never from the text: a password with an
	// unencoded / ? or # would otherwise spill into the host or the path.
	if config.UserPartSpills(raw) {
		return "(DATABASE_URL with an unencoded / ? or # in its user part)"
	}
	c, err := pgconn.ParseConfig(raw)
	if err != nil {
		return "(unparsable DATABASE_URL)"
	}
	return (&url.URL{Scheme: "postgres", User: url.User(c.User), Host: net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port))), Path: "/" + c.Database}).String()
}
