package database_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server/database"
	"github.com/authd/authd/server/testkit"
)

func TestMigrations_UpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url, drop, err := testkit.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	m, err := database.NewMigrator(pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })

	tables := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users', 'sessions', 'refresh_tokens')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	versions := func() (int64, int64) {
		cur, target, err := m.Versions(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return cur, target
	}

	if cur, target := versions(); cur != 0 || target < 2 {
		t.Fatalf("empty database at version %d of %d", cur, target)
	}
	if n, err := m.Up(ctx); err != nil || n < 2 {
		t.Fatalf("up: %d, %v", n, err)
	}
	if cur, target := versions(); cur != target || tables() != 3 {
		t.Fatalf("after up: version %d of %d, %d tables", cur, target, tables())
	}
	if err := m.Down(ctx); err != nil {
		t.Fatal(err)
	}
	// Versions need not be contiguous (helpers number migrations in
	// parallel): one down lands on the one before the latest.
	list, err := m.Status(ctx)
	if err != nil || len(list) < 2 {
		t.Fatalf("status = %v, %v", list, err)
	}
	if cur, target := versions(); cur != list[len(list)-2].Source.Version {
		t.Fatalf("after one down: version %d of %d, want %d", cur, target, list[len(list)-2].Source.Version)
	}
	if err := m.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if cur, _ := versions(); cur != 0 || tables() != 0 {
		t.Fatalf("after reset: version %d, %d tables", cur, tables())
	}
	if n, err := m.Up(ctx); err != nil || n < 2 || tables() != 3 {
		t.Fatalf("up again: %d, %v, %d tables", n, err, tables())
	}
	status, err := m.Status(ctx)
	if err != nil || len(status) < 2 || status[0].State != "applied" {
		t.Errorf("status = %v, %v", status, err)
	}
	if n, err := m.Up(ctx); err != nil || n != 0 {
		t.Errorf("up on a current schema applied %d (%v)", n, err)
	}
}
