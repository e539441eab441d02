package testkit

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/database"
)

// OwnDatabase gives the app a migrated database of its own, dropped when
// the test ends, instead of the binary's shared one: for rules over every
// row of a table (the last active admin), which other tests' rows would
// disturb. app.Deps.DB is that database.
func OwnDatabase(t T) Option {
	t.Helper()
	ctx := context.Background()
	url, drop, err := CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close) // before the drop: cleanups run last first
	mig, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	_, err = mig.Up(ctx)
	_ = mig.Close()
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, "", "")
	return func(d *server.Deps) { d.DB = server.GuardDatabase(cfg, pool, d.Log) }
}
