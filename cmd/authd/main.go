// Command authd runs the authentication service.
//
//	authd [serve]               run the HTTP server (default)
//	authd migrate up|down|status  (production: down --to VERSION --confirm)
//	authd keys generate|list|add|promote|retire|remove   the key file and its rotation (keys.go)
//	authd datakeys generate|list|add|rewrap|remove   the data key file (TOTP secrets) and its rotation (datakeys.go)
//	authd mail requeue          give dead mail another round of attempts
//	authd mfa reset EMAIL       remove the factors of a user who lost them (mfa.go)
//	authd admin grant|revoke EMAIL, admin credentials create|list|revoke   admins and service credentials (admin.go)
//	authd healthcheck [URL]     exit 0 when /readiness answers 200 (for container probes)
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/joho/godotenv"
	// CA roots for TLS (SMTP, OTLP, PostgreSQL, Redis) where the system has
	// none, as in the container image's empty base; system roots win elsewhere.
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/authd/authd/server/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "authd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve", "migrate", "keys", "datakeys", "mail", "mfa", "admin", "healthcheck":
	case "-h", "--help", "help":
		_, err := fmt.Fprintln(stdout, "usage: authd [serve] | migrate up | down [--to VERSION] [--confirm] | status | keys generate|list|add|promote|retire|remove | datakeys generate|list|add|rewrap|remove | mail requeue | mfa reset EMAIL | admin grant|revoke EMAIL | admin credentials create|list|revoke | healthcheck [URL]")
		return err
	default:
		return fmt.Errorf("unknown command %q (try: serve, migrate, keys, datakeys, mail, mfa, admin, healthcheck)", cmd)
	}

	env, err := environ()
	if err != nil {
		return err
	}
	cfg, err := config.Load(env)
	switch cmd {
	case "healthcheck":
		// The probe needs only AUTHD_ADDR: a probe environment without the
		// production secrets must not make a healthy authd look dead.
		return healthcheck(ctx, cfg, args, stdout)
	case "keys":
		// Key files come before a valid production configuration (which
		// requires one), so the key steps use only the key file, the
		// algorithm and, to look for sealed mail, DATABASE_URL.
		return keysCommand(ctx, cfg, args, stdout)
	case "datakeys":
		// Likewise: the data key file, and DATABASE_URL for rewrap and remove.
		return dataKeysCommand(ctx, cfg, args, stdout)
	}
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := newLogger(cfg, os.Stderr)
	switch cmd {
	case "migrate":
		return migrate(ctx, cfg, args, stdout)
	case "mail":
		return mailCommand(ctx, cfg, args, stdout)
	case "mfa":
		return mfaCommand(ctx, cfg, log, args, stdout)
	case "admin":
		return adminCommand(ctx, cfg, log, args, stdout)
	}
	if wantsEmbeddedDatabase(cfg, env, listening) {
		db, err := startDevDatabase(log)
		if err != nil {
			return err
		}
		defer stopDevDatabase(db, log) // after serve has closed its pool
		cfg.DatabaseURL = db.URL()
	}
	return serve(ctx, cfg, log)
}

// environ is the process environment over an optional .env file: a variable
// set in the environment wins. A .env that exists but does not parse is an
// error, never silently skipped.
func environ() (map[string]string, error) {
	env, err := godotenv.Read(".env")
	if errors.Is(err, fs.ErrNotExist) {
		env, err = map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read .env: %w", err)
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env, nil
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: cfg.SlogLevel()})
	log := slog.New(serverLogHandler(h)).With("service", "authd")
	slog.SetDefault(log)
	return log
}
