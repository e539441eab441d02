package main

import (
	"context"
	"errors"
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
	if len(args) != 1 {
		return errors.New("usage: authd migrate up|down|status")
	}
	if args[0] == "up" && cfg.Development() {
		if err := database.EnsureExists(ctx, cfg.DatabaseURL); err != nil {
			return err
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
	defer m.Close()
	switch args[0] {
	case "up":
		n, err := m.Up(ctx)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(out, "applied %d migration(s)\n", n)
		return err
	case "down":
		if err := m.Down(ctx); err != nil {
			return err
		}
		_, err = fmt.Fprintln(out, "rolled back the latest migration")
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
