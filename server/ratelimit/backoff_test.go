package ratelimit

import (
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var testPolicy = BackoffPolicy{After: 3, Base: time.Second, Max: 8 * time.Second, Window: time.Hour}

// exerciseBackoff runs the same sequence on any Backoff: free attempts,
// doubling waits capped at Max, forgiveness and the window.
func exerciseBackoff(t *testing.T, b Backoff) {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	attempt := func() time.Duration {
		t.Helper()
		wait, err := b.Attempt(ctx, "k", now, testPolicy)
		if err != nil {
			t.Fatal(err)
		}
		return wait
	}
	for i := range 3 {
		if w := attempt(); w != 0 {
			t.Fatalf("attempt %d waits %v, want none (free)", i+1, w)
		}
	}
	var waits []time.Duration
	for range 5 {
		w := attempt() // blocked: counts nothing
		waits = append(waits, w)
		if again := attempt(); again != w {
			t.Fatalf("a blocked attempt changed the wait: %v then %v", w, again)
		}
		now = now.Add(w)
		if w := attempt(); w != 0 {
			t.Fatalf("after waiting, the attempt is refused for %v", w)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if err := b.Forgive(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if w := attempt(); w != 0 {
			t.Fatalf("forgiven, attempt %d waits %v", i+1, w)
		}
	}
	now = now.Add(testPolicy.Window + testPolicy.Max)
	for i := range 3 {
		if w := attempt(); w != 0 {
			t.Fatalf("after the window, attempt %d waits %v", i+1, w)
		}
	}
}

// count records one attempt the test only needs counted; a store that
// fails to count fails the test here.
func count(t *testing.T, b Backoff, key string, at time.Time) {
	t.Helper()
	if _, err := b.Attempt(ctx, key, at, testPolicy); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryBackoff_Sequence(t *testing.T) {
	t.Parallel()
	exerciseBackoff(t, NewMemoryBackoff(10))
}

func TestRedisBackoff_Sequence(t *testing.T) {
	t.Parallel()
	exerciseBackoff(t, liveRedisBackoff(t))
}

func liveRedisBackoff(t *testing.T) *RedisBackoff {
	t.Helper()
	r := liveRedis(t) // checks Redis answers
	opts, _ := redis.ParseURL(redisURL())
	c := redis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return NewRedisBackoff(c, r.prefix+"bo:")
}

// TestBackoff_ConcurrentAttemptsAreCountedOneByOne: with one free attempt
// left, of many at once exactly one is counted and the rest wait.
func TestBackoff_ConcurrentAttemptsAreCountedOneByOne(t *testing.T) {
	t.Parallel()
	for name, b := range map[string]Backoff{"memory": NewMemoryBackoff(10), "redis": liveRedisBackoff(t)} {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			for range 2 {
				count(t, b, "k", now)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			admitted := 0
			for range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if w, err := b.Attempt(ctx, "k", now, testPolicy); err == nil && w == 0 {
						mu.Lock()
						admitted++
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if admitted != 1 {
				t.Errorf("%d of 20 concurrent attempts counted, want 1", admitted)
			}
		})
	}
}

// TestMemoryBackoff_FloodStaysWithinItsLimit: 100,000 attempts for random
// keys (authd's keys are hashes of address and client) leave at most
// authd's limit of counts.
func TestMemoryBackoff_FloodStaysWithinItsLimit(t *testing.T) {
	t.Parallel()
	const limit = DefaultBackoffLimit
	b := NewMemoryBackoff(limit)
	now := time.Now()
	for i := range 100_000 {
		if _, err := b.Attempt(ctx, rand.Text(), now, testPolicy); err != nil {
			t.Fatal(err)
		}
		if n := b.Len(); n > limit {
			t.Fatalf("after %d attempts %d counts, want at most %d", i+1, n, limit)
		}
	}
	if b.Len() != limit {
		t.Errorf("%d counts, want the limit %d", b.Len(), limit)
	}
}

func TestMemoryBackoff_ExpiredCountsAreDropped(t *testing.T) {
	t.Parallel()
	b := NewMemoryBackoff(100)
	now := time.Now()
	for range 50 {
		count(t, b, rand.Text(), now)
	}
	count(t, b, "late", now.Add(testPolicy.Window+time.Second))
	if n := b.Len(); n != 1 {
		t.Errorf("%d counts after the window, want only the new one", n)
	}
}

// TestRedisBackoff_EveryCountExpires: each key a flood leaves behind lives
// at most the window (or its block, if longer).
func TestRedisBackoff_EveryCountExpires(t *testing.T) {
	t.Parallel()
	b := liveRedisBackoff(t)
	now := time.Now()
	const n = 2000
	for range n {
		if _, err := b.Attempt(ctx, rand.Text(), now, testPolicy); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := b.client.Keys(ctx, b.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != n {
		t.Fatalf("%d keys, want %d", len(keys), n)
	}
	for _, k := range keys {
		ttl, err := b.client.PTTL(ctx, k).Result()
		if err != nil || ttl <= 0 || ttl > testPolicy.Window {
			t.Fatalf("key %s has TTL %v (%v), want (0, %v]", k, ttl, err, testPolicy.Window)
		}
	}
}

func TestFallbackBackoff_CountsLocallyWhileSharedIsDown(t *testing.T) {
	t.Parallel()
	dead := NewRedisBackoff(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1}), "x:")
	local := NewMemoryBackoff(10)
	f := NewFallbackBackoff(dead, local, func() bool { return false }, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	now := time.Now()
	for range testPolicy.After {
		if w, err := f.Attempt(ctx, "k", now, testPolicy); err != nil || w != 0 {
			t.Fatalf("free attempt: %v %v", w, err)
		}
	}
	if w, err := f.Attempt(ctx, "k", now, testPolicy); err != nil || w != testPolicy.Base {
		t.Errorf("with the shared store failing: wait %v (%v), want the local count's %v", w, err, testPolicy.Base)
	}
	if err := f.Forgive(ctx, "k"); err != nil || local.Len() != 0 {
		t.Errorf("forgive with the shared store failing: %v, %d local counts", err, local.Len())
	}

	shared := liveRedisBackoff(t)
	down := true
	f = NewFallbackBackoff(shared, NewMemoryBackoff(10), func() bool { return down }, time.Second, slog.New(slog.NewTextHandler(io.Discard, nil)))
	count(t, f, "k", time.Now())
	if n, _ := shared.client.Exists(ctx, shared.prefix+"k").Result(); n != 0 {
		t.Error("counted in the shared store while it is known to be down")
	}
	down = false
	count(t, f, "k", time.Now())
	if n, _ := shared.client.Exists(ctx, shared.prefix+"k").Result(); n != 1 {
		t.Error("not counted in the shared store once it is back")
	}
}

// TestMemoryBackoff_AFloodDoesNotPushOutABlockedCount: a guesser who is
// blocked must not clear the block by filling the store with fresh counts.
func TestMemoryBackoff_AFloodDoesNotPushOutABlockedCount(t *testing.T) {
	t.Parallel()
	b := NewMemoryBackoff(100)
	now := time.Now()
	for range testPolicy.After {
		count(t, b, "guesser", now)
	}
	for range 1000 {
		if _, err := b.Attempt(ctx, rand.Text(), now, testPolicy); err != nil {
			t.Fatal(err)
		}
	}
	if wait, err := b.Attempt(ctx, "guesser", now, testPolicy); err != nil || wait <= 0 {
		t.Errorf("after a flood of fresh counts the guesser waits %v (%v), want its block kept", wait, err)
	}
}

// TestMemoryBackoff_DecoyBlocksDoNotPushOutALongerBlock: blocks kept in
// front of a guesser's own, so that every count the store looks at blocks,
// still do not make the guesser's longer block the one to go.
func TestMemoryBackoff_DecoyBlocksDoNotPushOutALongerBlock(t *testing.T) {
	t.Parallel()
	b := NewMemoryBackoff(200)
	start := time.Now()
	for range testPolicy.After {
		count(t, b, "guesser", start)
	}
	now := start.Add(2 * time.Second) // past the first block: one more failure doubles it
	count(t, b, "guesser", now)
	for i := range evictScan {
		for range testPolicy.After {
			count(t, b, fmt.Sprintf("decoy-%d", i), now)
		}
	}
	for range 1000 {
		count(t, b, rand.Text(), now)
	}
	if wait, err := b.Attempt(ctx, "guesser", now, testPolicy); err != nil || wait <= 0 {
		t.Errorf("after decoys and a flood the guesser waits %v (%v), want its block kept", wait, err)
	}
}
