package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// result is one measured load: throughput and latency percentiles.
type result struct {
	ops       int
	failures  int
	elapsed   time.Duration
	latencies []time.Duration // sorted
	cpu       cpuTimes
}

func (r result) rate() float64 { return float64(r.ops) / r.elapsed.Seconds() }

func (r result) p50() time.Duration { return r.percentile(50) }
func (r result) p99() time.Duration { return r.percentile(99) }

func (r result) percentile(p int) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	return r.latencies[len(r.latencies)*p/100]
}

// add is both measurements as one.
func (r result) add(o result) result {
	all := slices.Concat(r.latencies, o.latencies)
	slices.Sort(all)
	return result{ops: r.ops + o.ops, failures: r.failures + o.failures, elapsed: r.elapsed + o.elapsed, latencies: all, cpu: r.cpu.plus(o.cpu)}
}

func (r result) String() string {
	return fmt.Sprintf("%8.0f/s  p50 %7s  p99 %7s", r.rate(), r.p50().Round(10*time.Microsecond), r.p99().Round(10*time.Microsecond))
}

// load is an operation and how many workers run it at once.
type load struct {
	workers int
	op      func(worker int) error
}

// closedLoop runs op from each of workers goroutines back to back for d,
// after a warm-up of d/5 whose results are dropped. A closed loop measures
// capacity at a stated concurrency, which is what a ceiling ratio compares;
// an open-loop rate would need the capacity known in advance.
func closedLoop(workers int, d time.Duration, op func(worker int) error) result {
	run := func(d time.Duration) result {
		var mu sync.Mutex
		var all []time.Duration
		failures := 0
		cpu := readCPU()
		start := time.Now()
		deadline := start.Add(d)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				var mine []time.Duration
				bad := 0
				for time.Now().Before(deadline) {
					t0 := time.Now()
					if err := op(w); err != nil {
						bad++
						continue
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				all = append(all, mine...)
				failures += bad
				mu.Unlock()
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		cpu = readCPU().minus(cpu)
		slices.Sort(all)
		return result{ops: len(all), failures: failures, elapsed: elapsed, latencies: all, cpu: cpu}
	}
	run(d / 5)
	return run(d)
}

// call sends one request and fails unless the status is want.
func call(c *http.Client, method, url, bearer string, body []byte, want int) ([]byte, error) {
	status, out, err := send(c, method, url, bearer, body)
	if err == nil && status != want {
		err = fmt.Errorf("%s %s: %d %s", method, url, status, out)
	}
	return out, err
}

// send sends one request and returns its status and body.
func send(c *http.Client, method, url, bearer string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(context.Background(), method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	return resp.StatusCode, out, err
}
