package main

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authd/authd/gen/client"
)

// soak sends mixed traffic at a steady rate (an open loop: arrivals do not
// wait for answers) for d and prints, per window, the request count, 5xx
// count, latency percentiles and authd's resident memory. It fails if any
// response was a 5xx or never came.
func soak(a *authd, users []user, d time.Duration, rate int) error {
	chains := make(chan string, 16)
	for i := range cap(chains) {
		pair, err := a.login(users[i%len(users)].email)
		if err != nil {
			return err
		}
		chains <- pair.RefreshToken
	}
	// Of every 20 arrivals: 14 GET /users/me, 3 refreshes, 2 JWKS, 1 login.
	mix := []func(i int) (int, error){}
	me := func(i int) (int, error) {
		s, _, err := send(a.http, "GET", a.url+"/users/me", users[i%len(users)].access, nil)
		return s, err
	}
	for range 14 {
		mix = append(mix, me)
	}
	refresh := func(int) (int, error) {
		tok := <-chains
		s, b, err := send(a.http, "POST", a.url+"/auth/refresh-token", "", body(client.RefreshRequest{RefreshToken: tok}))
		if pair, derr := decode[client.TokenPair](b); err == nil && s == 200 && derr == nil {
			tok = pair.RefreshToken
		}
		chains <- tok
		return s, err
	}
	jwks := func(int) (int, error) {
		s, _, err := send(a.http, "GET", a.url+"/.well-known/jwks.json", "", nil)
		return s, err
	}
	login := func(i int) (int, error) {
		s, _, err := send(a.http, "POST", a.url+"/auth/login", "", body(client.LoginRequest{Email: users[i%len(users)].email, Password: benchPassword}))
		return s, err
	}
	mix = append(mix, refresh, refresh, refresh, jwks, jwks, login)

	type window struct {
		mu        sync.Mutex
		latencies []time.Duration
		errors    int
	}
	var total5xx, totalErrors atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start, w, i := time.Now(), &window{}, 0
	fmt.Printf("%8s %8s %8s %6s %9s %9s %9s\n", "t", "requests", "5xx sum", "errors", "p50", "p99", "RSS MiB")
	report := func(w *window, at time.Duration) {
		w.mu.Lock()
		defer w.mu.Unlock()
		slices.Sort(w.latencies)
		var p50, p99 time.Duration
		if n := len(w.latencies); n > 0 {
			p50, p99 = w.latencies[n/2], w.latencies[n*99/100]
		}
		rss, _ := currentRSS(a.cmd.Process.Pid)
		fmt.Printf("%8s %8d %8d %6d %9s %9s %9.1f\n", at.Round(time.Second), len(w.latencies), total5xx.Load(), w.errors,
			p50.Round(10*time.Microsecond), p99.Round(10*time.Microsecond), rss)
	}
	next := start.Add(10 * time.Second)
	for now := range tick.C {
		if now.After(next) {
			report(w, now.Sub(start))
			w, next = &window{}, next.Add(10*time.Second)
		}
		if now.Sub(start) >= d {
			break
		}
		op, cur, n := mix[i%len(mix)], w, i
		i++
		wg.Go(func() {
			t0 := time.Now()
			status, err := op(n)
			lat := time.Since(t0)
			cur.mu.Lock()
			defer cur.mu.Unlock()
			if err != nil {
				cur.errors++
				totalErrors.Add(1)
				return
			}
			if status >= 500 {
				total5xx.Add(1)
			}
			cur.latencies = append(cur.latencies, lat)
		})
	}
	wg.Wait()
	if len(w.latencies) > 0 {
		report(w, time.Since(start)) // the last, partial window
	}
	fmt.Printf("soak: %d requests in %s at %d/s; %d 5xx, %d without an answer\n", i, d, rate, total5xx.Load(), totalErrors.Load())
	if total5xx.Load() > 0 || totalErrors.Load() > 0 {
		return fmt.Errorf("%d 5xx and %d unanswered requests", total5xx.Load(), totalErrors.Load())
	}
	return nil
}

// currentRSS is VmRSS, the process's resident set now, in MiB.
func currentRSS(pid int) (float64, error) { return procStatusMiB(pid, "VmRSS:") }
