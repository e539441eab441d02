package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authd/authd/gen/db"
	"github.com/authd/authd/server/config"
	"github.com/authd/authd/server/database"
)

// migrate runs `authd migrate up|down|status`.
func migrate(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	const usage = "usage: authd migrate up | down [--to VERSION] [--confirm] | status"
	if len(args) < 1 || (args[0] != "down" && len(args) != 1) {
		return errors.New(usage)
	}
	down, err := parseDown(cfg, args[1:])
	if args[0] == "down" && err != nil {
		return fmt.Errorf("%w\n%s", err, usage)
	}
	if args[0] == "up" && cfg.Development() {
		created, err := database.EnsureExists(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		if created {
			_, _ = fmt.Fprintln(out, "created the database", databaseForLog(cfg.DatabaseURL))
		}
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	m, err := database.NewMigrator(pool)
	if err != nil {
		return err
	}
	defer func() { _ = m.Close() }() // its connections belong to the pool
	switch args[0] {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "applied %d migration(s)\n", n)
		return err
	case "down":
		if down.to < 0 {
			if err := m.Down(ctx); err != nil {
				return err
			}
			_, err = fmt.Fprintln(out, "rolled back the latest migration")
			return err
		}
		from, _, err := m.Versions(ctx)
		if err != nil {
			return err
		}
		if down.to >= from {
			return fmt.Errorf("the schema is at version %d: nothing to roll back to version %d", from, down.to)
		}
		if err := m.DownTo(ctx, down.to); err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "rolled back from version %d to version %d\n", from, down.to)
		return err
	case "status":
		list, err := m.Status(ctx)
		if err != nil {
			return err
		}
		for _, s := range list {
			applied := "pending"
			if s.State == "applied" {
				applied = "applied " + s.AppliedAt.UTC().Format("2006-01-02 15:04:05Z")
			}
			if _, err := fmt.Fprintf(out, "%05d  %-24s %s\n", s.Source.Version, s.Source.Path, applied); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("unknown migrate command %q (up, down, status)", args[0])
	}
}

// downArgs are the options of `authd migrate down`.
type downArgs struct {
	to      int64 // -1: the latest migration only
	confirm bool
}

// parseDown reads `--to VERSION` and `--confirm`. Rolling back drops tables
// and their data (security_events, the audit trail, among them), so
// production insists on both: no default target, no accident.
func parseDown(cfg config.Config, args []string) (downArgs, error) {
	fs := flag.NewFlagSet("migrate down", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	d := downArgs{}
	fs.Int64Var(&d.to, "to", -1, "roll back to this version (0: every migration)")
	fs.BoolVar(&d.confirm, "confirm", false, "yes, drop what the rolled-back migrations created")
	if err := fs.Parse(args); err != nil {
		return d, err
	}
	if fs.NArg() > 0 {
		return d, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	toGiven := false
	fs.Visit(func(f *flag.Flag) { toGiven = toGiven || f.Name == "to" })
	if toGiven && d.to < 0 {
		return d, errors.New("--to needs a version >= 0")
	}
	if !cfg.Development() && (d.to < 0 || !d.confirm) {
		return d, errors.New("in production, migrate down drops tables and their data (the audit trail among them): give the target version with --to VERSION and --confirm")
	}
	return d, nil
}

// mailCommand runs `authd mail requeue`: dead mail (after an SMTP outage
// longer than the retries) goes back to the outbox for a new round, but, as
// the throttle would, at most the newest mail of a kind per mailbox, and
// none where a newer one of its kind followed; the bodies of the rest are
// dropped, so a month of dead mail does not go out in one burst.
func mailCommand(ctx context.Context, cfg config.Config, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] != "requeue" {
		return errors.New("usage: authd mail requeue")
	}
	pool, err := database.Open(ctx, cfg.DatabaseURL, 2, nil)
	if err != nil {
		return err
	}
	defer pool.Close()
	var requeued, superseded int64
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		q := db.New(tx)
		if requeued, err = q.RequeueDeadMail(ctx, time.Now()); err != nil {
			return err
		}
		superseded, err = q.SupersedeDeadMail(ctx)
		return err
	})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "requeued %d dead mail(s)\n", requeued)
	if err == nil && superseded > 0 {
		_, err = fmt.Fprintf(out, "dropped %d superseded dead mail(s)\n", superseded)
	}
	return err
}
