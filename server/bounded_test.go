package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/ratelimit"
	"github.com/authd/authd/server/testkit"
)

// redisBackoff is a login backoff in the test Redis under prefix.
func redisBackoff(t *testing.T, prefix string) *ratelimit.RedisBackoff {
	t.Helper()
	return ratelimit.NewRedisBackoff(testRedisClient(t, testRedisOptions(t)), prefix+"bo:")
}

// rowCounts counts the rows of every table of the test database.
func rowCounts(t *testing.T) map[string]int {
	t.Helper()
	ctx := context.Background()
	pool := testkit.Pool(t)
	rows, err := pool.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	counts := map[string]int{}
	for _, name := range tables {
		var n int
		if err := pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM %q`, name)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[name] = n
	}
	return counts
}

// TestBackoff_FloodOfRandomEmailsKeepsStateBounded: failed logins for random
// addresses from many clients (an IPv6 /48 has 65,536 /64s) write nothing
// to the database, and the backoff holds at most its limit of counts (the
// 100,000-address flood against authd's own limit is
// ratelimit.TestMemoryBackoff_FloodStaysWithinItsLimit). Not parallel: it
// counts every row of the database, so no other test may write meanwhile.
func TestBackoff_FloodOfRandomEmailsKeepsStateBounded(t *testing.T) {
	const attempts, workers, limit = 800, 8, 100
	counts := ratelimit.NewMemoryBackoff(limit)
	app := testkit.NewApp(t, testkit.FastHashing, withLimits(func(l *server.Limits) {
		l.LoginIP = ratelimit.Limit{Rate: 1_000_000, Period: time.Minute}
		l.Login = ratelimit.Limit{Rate: 1000, Period: time.Minute} // out of the way of the backoff
		l.BackoffStore = counts
	}))
	before := rowCounts(t)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range attempts / workers {
				ip := fmt.Sprintf("2001:db8:%x:%x::1", w, i) // a /64 each
				if status, _ := attempt(t, app, testkit.UniqueEmail(), "Wrong-Horse-8", ip); status != http.StatusUnauthorized {
					t.Errorf("flood attempt: %d, want 401", status)
					return
				}
			}
		}()
	}
	wg.Wait()
	for table, n := range rowCounts(t) {
		if n != before[table] {
			t.Errorf("table %s: %d rows before the flood, %d after; failed logins for unknown addresses must store nothing there", table, before[table], n)
		}
	}
	if n := counts.Len(); n > limit {
		t.Errorf("the backoff holds %d counts after %d attempts, want at most %d", n, attempts, limit)
	}

	// The bound does not cost the backoff its bite: a client that keeps
	// guessing is still slowed after the flood.
	for i := range 5 {
		attempt(t, app, "target@example.com", "Wrong-Horse-"+strconv.Itoa(i), "198.51.100.7")
	}
	if status, _ := attempt(t, app, "target@example.com", "Wrong-Horse-9", "198.51.100.7"); status != http.StatusTooManyRequests {
		t.Errorf("a persistent guesser after the flood: %d, want 429", status)
	}
}
