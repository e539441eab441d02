package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authd/authd/server"
	"github.com/authd/authd/server/password"
	"github.com/authd/authd/server/testkit"
)

// BenchmarkLoginFlood sends 200 logins at once, with the production argon2id
// parameters, while one client keeps calling GET /users/me. It reports the
// process's peak RSS, the /users/me latency during the flood and how many
// logins were served or shed. "bulkhead" is the default (one hash per CPU,
// 1 s wait); "unbounded" lets all 200 hash at once, for comparison: there
// the CPU-starved database calls time out and /users/me fails.
func BenchmarkLoginFlood(b *testing.B) {
	for _, tc := range []struct {
		name  string
		slots uint
	}{{"bulkhead", uint(runtime.GOMAXPROCS(0))}, {"unbounded", 200}} {
		b.Run(tc.name, func(b *testing.B) {
			h, err := password.NewHasher(password.Params{Algorithm: "argon2id", MemoryKiB: 19456, Time: 2, Threads: 1, Concurrency: tc.slots, MaxWait: time.Second})
			if err != nil {
				b.Fatal(err)
			}
			app := testkit.NewApp(b, testkit.NoLimits, discardLogs, func(d *server.Deps) { d.Hasher = h })
			u, pair := app.NewUser(b)
			body := testkit.Must(json.Marshal(map[string]string{"email": u.Email, "password": testkit.Password}))(b)
			c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 0}}
			runtime.GC()
			resetPeakRSS(b)

			var ok, shed, other atomic.Int64
			var meLatencies []time.Duration
			var meFailed int
			for b.Loop() {
				var wg sync.WaitGroup
				done := make(chan struct{})
				for range 200 {
					wg.Go(func() {
						req, _ := http.NewRequest(http.MethodPost, app.URL+"/auth/login", bytes.NewReader(body))
						req.Header.Set("Content-Type", "application/json")
						resp, err := c.Do(req)
						if err != nil {
							other.Add(1)
							return
						}
						resp.Body.Close()
						switch resp.StatusCode {
						case http.StatusOK:
							ok.Add(1)
						case http.StatusServiceUnavailable:
							shed.Add(1)
						default:
							other.Add(1)
						}
					})
				}
				go func() { wg.Wait(); close(done) }()
				for probing := true; probing; {
					select {
					case <-done:
						probing = false
					default:
						start := time.Now()
						req, _ := http.NewRequest(http.MethodGet, app.URL+"/users/me", nil)
						req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
						resp, err := c.Do(req)
						if err != nil || resp.StatusCode != http.StatusOK {
							meFailed++
						}
						if err == nil {
							resp.Body.Close()
						}
						meLatencies = append(meLatencies, time.Since(start))
					}
				}
			}
			slices.Sort(meLatencies)
			b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
			b.ReportMetric(ms(meLatencies[len(meLatencies)/2]), "me-p50-ms")
			b.ReportMetric(ms(meLatencies[len(meLatencies)*99/100]), "me-p99-ms")
			b.ReportMetric(float64(meFailed), "me-failed")
			b.ReportMetric(float64(len(meLatencies)), "me-calls")
			b.ReportMetric(float64(ok.Load())/float64(b.N), "logins-ok/op")
			b.ReportMetric(float64(shed.Load())/float64(b.N), "logins-503/op")
			b.ReportMetric(float64(other.Load())/float64(b.N), "logins-other/op")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// resetPeakRSS makes the kernel forget the process's high-water mark.
func resetPeakRSS(b *testing.B) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		b.Logf("cannot reset peak RSS (%v); the figure includes earlier work", err)
	}
}

func peakRSSMiB(b *testing.B) float64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}
