package database

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/authd/authd/schema"
)

// Migrator applies the embedded migrations in schema/ with goose. A lock row
// in the goose_lock table lets several instances start at once without
// racing. Not a session-level advisory lock: behind a transaction-pooling
// PgBouncer every statement may run in another server session, so such a
// lock is taken in one session, re-entered by another instance landing in
// the same session, and cannot be released from a different one (see
// docs/deploy.md, "Behind PgBouncer"). The row's lease is renewed while
// migrations run; a holder that dies frees it when the lease runs out.
type Migrator struct {
	db       *sql.DB
	provider *goose.Provider
}

// leaseDuration is how long the migration lock outlives its holder's last
// heartbeat (every 5 seconds).
const leaseDuration = 30 * time.Second

// NewMigrator prepares migrations over pool.
func NewMigrator(pool *pgxpool.Pool) (*Migrator, error) {
	locker, err := lock.NewPostgresTableLocker(
		lock.WithTableLeaseDuration(leaseDuration),
		// Wait for another instance's migrations as long as before (5
		// minutes), checking every second rather than every five.
		lock.WithTableLockTimeout(time.Second, 300),
		lock.WithTableLogger(slog.Default()), // warnings only: a failed heartbeat or release
	)
	if err != nil {
		return nil, err
	}
	sqlDB := stdlib.OpenDBFromPool(pool)
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, schema.FS, goose.WithLocker(locker))
	if err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	return &Migrator{db: sqlDB, provider: p}, nil
}

// Close releases the migrator's database handle (not the pool).
func (m *Migrator) Close() error { return m.db.Close() }

// Up applies every pending migration and returns how many it applied.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	res, err := m.provider.Up(ctx)
	return len(res), err
}

// Down rolls back the latest migration.
func (m *Migrator) Down(ctx context.Context) error {
	_, err := m.provider.Down(ctx)
	return err
}

// DownTo rolls back every migration above version.
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	_, err := m.provider.DownTo(ctx, version)
	return err
}

// Reset rolls back every migration.
func (m *Migrator) Reset(ctx context.Context) error {
	_, err := m.provider.DownTo(ctx, 0)
	return err
}

// Versions returns the applied version and the newest version the binary knows.
func (m *Migrator) Versions(ctx context.Context) (current, target int64, err error) {
	return m.provider.GetVersions(ctx)
}

// Status lists each migration and whether it is applied.
func (m *Migrator) Status(ctx context.Context) ([]*goose.MigrationStatus, error) {
	return m.provider.Status(ctx)
}
