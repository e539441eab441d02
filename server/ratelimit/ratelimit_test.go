package ratelimit

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var ctx = context.Background()

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func redisURL() string {
	if u := os.Getenv("TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

func liveRedis(t *testing.T) *Redis {
	t.Helper()
	opts, err := redis.ParseURL(redisURL())
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	if err := client.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis at %s: %v (set TEST_REDIS_URL)", redisURL(), err)
	}
	return NewRedis(client, "authd-test:"+rand.Text()+":")
}

// spend spends one event of key's budget, for a test that only needs it
// spent; a store that fails to decide fails the test here.
func spend(t *testing.T, s Store, key string, l Limit) {
	t.Helper()
	if _, err := s.Allow(ctx, key, l); err != nil {
		t.Fatal(err)
	}
}

func TestParseLimit(t *testing.T) {
	t.Parallel()
	l, err := ParseLimit("10/1m")
	if err != nil || l.Rate != 10 || l.Period != time.Minute || l.String() != "10/1m0s" {
		t.Errorf("ParseLimit = %+v, %v", l, err)
	}
	for _, bad := range []string{"", "10", "0/1m", "-1/1m", "10/0s", "ten/1m", "10/fortnight", "10/1ms"} {
		if _, err := ParseLimit(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// exercise runs the same sequence on any store: 4 per minute is a burst of
// 2 refilled every 20 s.
func exercise(t *testing.T, s Store) {
	t.Helper()
	l := Limit{Rate: 4, Period: time.Minute}
	for i := range 2 {
		res, err := s.Allow(ctx, "k", l)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Allowed || res.Remaining != 1-i {
			t.Fatalf("event %d: %+v, want allowed with %d left", i, res, 1-i)
		}
	}
	res, err := s.Allow(ctx, "k", l)
	if err != nil {
		t.Fatal(err)
	}
	if res.Allowed || res.RetryAfter <= 0 || res.RetryAfter > 20*time.Second {
		t.Errorf("over the burst: %+v, want refused with a retry within one interval (20s)", res)
	}
	if res, _ := s.Allow(ctx, "other", l); !res.Allowed {
		t.Error("another key shares the budget")
	}
	exerciseAll(t, s)
}

// exerciseAll checks that AllowAll spends every budget of a request or none.
func exerciseAll(t *testing.T, s Store) {
	t.Helper()
	one, two := Limit{Rate: 1, Period: time.Hour}, Limit{Rate: 4, Period: time.Hour} // bursts of 1 and 2
	checks := []Check{{Key: "a", Limit: one}, {Key: "b", Limit: two}}
	res, err := s.AllowAll(ctx, checks)
	if err != nil {
		t.Fatal(err)
	}
	if !Allowed(res) || res[0].Remaining != 0 || res[1].Remaining != 1 {
		t.Fatalf("first request: %+v, want both allowed with 0 and 1 left", res)
	}
	res, err = s.AllowAll(ctx, checks)
	if err != nil {
		t.Fatal(err)
	}
	if Allowed(res) || res[0].Allowed || res[0].RetryAfter <= 0 || !res[1].Allowed {
		t.Fatalf("second request: %+v, want refused by a only", res)
	}
	for i, want := range []bool{true, false} {
		if res, _ := s.Allow(ctx, "b", two); res.Allowed != want {
			t.Fatalf("b alone, event %d: %+v; the refused request was charged to b", i, res)
		}
	}
}

func TestMemory_GCRA(t *testing.T) {
	t.Parallel()
	c := &clock{t: time.Unix(1_000_000, 0)}
	m := NewMemory(c.now)
	exercise(t, m)

	l := Limit{Rate: 4, Period: time.Minute}
	c.advance(19 * time.Second)
	if res, _ := m.Allow(ctx, "k", l); res.Allowed {
		t.Error("allowed before one interval passed")
	}
	c.advance(time.Second)
	if res, _ := m.Allow(ctx, "k", l); !res.Allowed {
		t.Error("refused after one interval")
	}
	c.advance(time.Hour)
	if res, _ := m.Allow(ctx, "k", l); !res.Allowed || res.Remaining != 1 {
		t.Errorf("after an hour: %+v, want the whole budget back", res)
	}
	c.advance(2 * time.Hour)
	spend(t, m, "sweeper", l)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tat["k"]; ok {
		t.Error("a key with its whole budget back was not swept")
	}
}

// TestMemory_AtMostRateInAnyWindow hammers a key far faster than allowed and
// counts the events let through in every window of one period.
func TestMemory_AtMostRateInAnyWindow(t *testing.T) {
	t.Parallel()
	for _, rate := range []int{1, 2, 3, 10, 100} {
		c := &clock{t: time.Unix(1_000_000, 0)}
		m := NewMemory(c.now)
		l := Limit{Rate: rate, Period: time.Hour}
		var allowed []time.Time
		step := l.Period / 997 // not a divisor of any interval
		for range 997 * 3 {
			if res, _ := m.Allow(ctx, "k", l); res.Allowed {
				allowed = append(allowed, c.t)
			}
			c.advance(step)
		}
		most := 0
		for i := range allowed {
			n := 0
			for j := i; j < len(allowed) && allowed[j].Sub(allowed[i]) < l.Period; j++ {
				n++
			}
			most = max(most, n)
		}
		if most != rate {
			t.Errorf("rate %d/h: at most %d events in an hour, want exactly %d", rate, most, rate)
		}
	}
}

func TestRedis_GCRA(t *testing.T) {
	t.Parallel()
	exercise(t, liveRedis(t))
}

// TestRedis_ReadsBudgetsStoredByEarlierVersions: a budget spent through
// redis_rate (key "rate:" + key, TAT in seconds since 2017) still counts.
func TestRedis_ReadsBudgetsStoredByEarlierVersions(t *testing.T) {
	t.Parallel()
	r := liveRedis(t)
	const jan2017 = 1483228800
	tat := float64(time.Now().Add(time.Hour).UnixMicro())/1e6 - jan2017 // an hour of events spent
	if err := r.client.Set(ctx, "rate:"+r.prefix+"k", tat, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Allow(ctx, "k", Limit{Rate: 4, Period: time.Hour}); err != nil || res.Allowed {
		t.Errorf("Allow = %+v, %v; want refused by the stored budget", res, err)
	}
}

func TestRedis_SharedByTwoClients(t *testing.T) {
	t.Parallel()
	a := liveRedis(t)
	opts, _ := redis.ParseURL(redisURL())
	other := redis.NewClient(opts)
	t.Cleanup(func() { other.Close() })
	b := NewRedis(other, a.prefix)
	l := Limit{Rate: 4, Period: time.Hour} // a burst of 2
	spend(t, a, "k", l)
	spend(t, b, "k", l)
	if res, _ := a.Allow(ctx, "k", l); res.Allowed {
		t.Error("two clients of one Redis did not share the budget")
	}
}

func TestFallback_UsesLocalWhileSharedIsDown(t *testing.T) {
	t.Parallel()
	dead := NewRedis(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1}), "x:")
	local := NewMemory(time.Now)
	f := NewFallback(dead, local, time.Second, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l := Limit{Rate: 4, Period: time.Hour} // a burst of 2
	var allowed int
	for range 5 {
		res, err := f.Allow(ctx, "k", l)
		if err != nil {
			t.Fatalf("fallback returned an error: %v", err)
		}
		if res.Allowed {
			allowed++
		}
	}
	if allowed != 2 {
		t.Errorf("%d of 5 allowed, want the local limit of 2", allowed)
	}
	if !f.Degraded() {
		t.Error("not reported as degraded")
	}
}

// TestFallback_HangingRedisFallsBackFast: a Redis that accepts connections
// and never answers must cost one short timeout, not every request's.
func TestFallback_HangingRedisFallsBackFast(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() }) // hold it open, say nothing
		}
	}()
	hung := NewRedis(redis.NewClient(ClientOptions(&redis.Options{Addr: l.Addr().String()})), "x:")
	f := NewFallback(hung, NewMemory(time.Now), 200*time.Millisecond, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f.Probe(ctx)
	start := time.Now()
	for range 5 {
		if _, err := f.Allow(ctx, "k", Limit{Rate: 10, Period: time.Minute}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("5 checks took %v against a hanging Redis", d)
	}
	if !f.Degraded() {
		t.Error("a hanging Redis is not reported as degraded")
	}
}

func TestFallback_SharedWhileHealthy(t *testing.T) {
	t.Parallel()
	shared := liveRedis(t)
	f := NewFallback(shared, NewMemory(time.Now), time.Second, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	l := Limit{Rate: 1, Period: time.Hour}
	if res, _ := f.Allow(ctx, "k", l); !res.Allowed {
		t.Fatal("first event refused")
	}
	if res, _ := shared.Allow(ctx, "k", l); res.Allowed {
		t.Error("the event did not reach the shared store")
	}
	if f.Degraded() {
		t.Error("degraded with Redis up")
	}
}

// TestAllowAll_ConcurrentRequestsSpendAtMostTheBurst: many requests at once
// over two shared budgets; no more pass than the smaller burst.
func TestAllowAll_ConcurrentRequestsSpendAtMostTheBurst(t *testing.T) {
	t.Parallel()
	for name, s := range map[string]Store{"memory": NewMemory(time.Now), "redis": liveRedis(t)} {
		checks := []Check{{Key: "ip", Limit: Limit{Rate: 6, Period: time.Hour}}, {Key: "user", Limit: Limit{Rate: 4, Period: time.Hour}}}
		var wg sync.WaitGroup
		var passed atomic.Int32
		for range 50 {
			wg.Go(func() {
				res, err := s.AllowAll(ctx, checks)
				if err != nil {
					t.Error(err)
				}
				if Allowed(res) {
					passed.Add(1)
				}
			})
		}
		wg.Wait()
		if got := passed.Load(); got != 2 {
			t.Errorf("%s: %d of 50 concurrent requests passed, want the burst of 2", name, got)
		}
	}
}

// A failed start-up probe is a verdict (degraded at once); a failed
// readiness probe counts like one failed request, so asking for /readiness
// while Redis answers slowly once cannot switch the limits to memory.
func TestFallback_OnlyTheStartProbeOpensAtOnce(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	newFallback := func() *Fallback {
		down := NewRedis(redis.NewClient(ClientOptions(&redis.Options{Addr: addr})), "x:")
		return NewFallback(down, NewMemory(time.Now), 200*time.Millisecond, time.Minute, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	readiness := newFallback()
	readiness.Probe(ctx)
	if readiness.Degraded() {
		t.Error("one failed readiness probe opened the breaker")
	}
	start := newFallback()
	start.ProbeAtStart(ctx)
	if !start.Degraded() {
		t.Error("a failed start-up probe did not report degraded at once")
	}
}
