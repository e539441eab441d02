// Command bench measures authd against the ceilings that bound it, side by
// side in one run: on a shared, noisy machine absolute figures drift, but
// ratios hold. It starts a release build of authd on a throwaway database,
// prints a table of authd / ceiling ratios and writes it to bench/results.md.
// It exits non-zero only when the harness itself fails.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authd/authd/server/config"
)

func main() {
	dur := flag.Duration("duration", 5*time.Second, "measured time per scenario (a fifth more is warm-up)")
	out := flag.String("out", "bench/results.md", "where to write the results table")
	soakFor := flag.Duration("soak", 0, "instead of benchmarking, send mixed traffic for this long (make soak)")
	rate := flag.Int("rate", 200, "requests per second during a soak")
	meCeilingProcess := flag.Bool("serve-me-ceiling", false, "internal: be the GET /users/me ceiling process")
	flag.Parse()
	var err error
	switch {
	case *meCeilingProcess:
		err = serveMeCeiling()
	case *soakFor > 0:
		err = runSoak(*soakFor, *rate)
	default:
		err = run(*dur, *out)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// rounds is how many turns each side of a ratio gets (see interleaved).
const rounds = 3

type row struct {
	name, concurrency string
	authd, ceiling    result
	target            float64 // minimum authd/ceiling; 0: no ceiling
	ceilingName       string
}

func run(d time.Duration, outPath string) error {
	ctx := context.Background()
	defaults, err := config.Load(map[string]string{"AUTHD_ENV": config.EnvDevelopment}) // what authd runs with here
	if err != nil {
		return err
	}
	a, dbURL, users, stop, err := startRun(ctx)
	if err != nil {
		return err
	}
	defer stop()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	var rows []row
	say := func(r row) { rows = append(rows, r); fmt.Fprintf(os.Stderr, "%-10s %s\n", r.name, r.authd) }

	m := interleaved(rounds, d, load{4, a.register}, load{4, a.loginAs(users)}, hashCeiling(defaults))
	say(row{name: "register", concurrency: "4", authd: m[0], ceiling: m[2], ceilingName: "x/crypto argon2id on all cores"})
	say(row{name: "login", concurrency: "4", authd: m[1], ceiling: m[2], target: 0.90, ceilingName: "x/crypto argon2id on all cores"})

	refresh, err := a.refreshChains(users, 8)
	if err != nil {
		return err
	}
	rotation, err := rotationCeiling(ctx, pool, users[0].id, 8)
	if err != nil {
		return err
	}
	m = interleaved(rounds, d, load{8, refresh}, rotation)
	say(row{name: "refresh", concurrency: "8", authd: m[0], ceiling: m[1], target: 0.60, ceilingName: "rotation transaction: the same sqlc queries (pgx)"})

	jwks, err := call(a.http, "GET", a.url+"/.well-known/jwks.json", "", nil, 200)
	if err != nil {
		return err
	}
	ceilURL, stopCeiling, err := meCeiling(dbURL, jwks)
	if err != nil {
		return err
	}
	defer stopCeiling()
	m = interleaved(rounds, d, load{16, a.get("/users/me", users[0].access)},
		load{16, func(int) error { _, err := call(a.http, "GET", ceilURL, users[0].access, nil, 200); return err }})
	say(row{name: "users/me", concurrency: "16", authd: m[0], ceiling: m[1], target: 0.70, ceilingName: "Echo + jwx verify + one pgx PK select"})
	say(row{name: "jwks", concurrency: "16", authd: closedLoop(16, d, a.get("/.well-known/jwks.json", ""))})

	flood, err := a.loginFlood(users, 200)
	if err != nil {
		return err
	}
	table := render(rows, flood, int(defaults.HashSlots()), float64(defaults.Argon2MemoryKiB)/1024)
	fmt.Println(table)
	return os.WriteFile(outPath, []byte(table), 0o644)
}

func runSoak(d time.Duration, rate int) error {
	a, _, users, stop, err := startRun(context.Background())
	if err != nil {
		return err
	}
	defer stop()
	return soak(a, users, d, rate)
}

func render(rows []row, f floodResult, slots int, hashMiB float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# authd benchmark results\n\n%s\n\n", machine())
	fmt.Fprintf(&b, "Closed loop at the stated concurrency, client and server on this machine; ratio = authd / ceiling, measured in the same run in %d alternating turns each.\n\n", rounds)
	b.WriteString("| scenario | concurrency | authd | p50 | p99 | failed | ceiling | ceiling rate | ratio | target |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		ratio, target, ceil, rate := "", "", "", ""
		if r.ceilingName != "" {
			ceil, rate = r.ceilingName, fmt.Sprintf("%.0f/s", r.ceiling.rate())
			ratio = fmt.Sprintf("%.0f %%", 100*r.authd.rate()/r.ceiling.rate())
		}
		if r.target > 0 {
			verdict := "met"
			if r.authd.rate()/r.ceiling.rate() < r.target {
				verdict = "missed"
			}
			target = fmt.Sprintf("≥ %.0f %% (%s)", 100*r.target, verdict)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0f/s | %s | %s | %d | %s | %s | %s | %s |\n", r.name, r.concurrency, r.authd.rate(),
			r.authd.p50().Round(10*time.Microsecond), r.authd.p99().Round(10*time.Microsecond), r.authd.failures, ceil, rate, ratio, target)
	}
	b.WriteString("\nProcessor time per operation in µs: busy time of the whole machine, whatever ran on it (authd or the ceiling, PostgreSQL, the load generator, and anything else; not time the hypervisor gave to other machines), and the parts of it spent in authd and in PostgreSQL.\n\n")
	b.WriteString("| scenario | machine | authd | PostgreSQL | ceiling: machine | ceiling: PostgreSQL |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.name, perOp(r.authd.cpu.machine, r.authd), perOp(r.authd.cpu.authd, r.authd),
			perOp(r.authd.cpu.postgres, r.authd), perOp(r.ceiling.cpu.machine, r.ceiling), perOp(r.ceiling.cpu.postgres, r.ceiling))
	}
	budget := 64 + float64(slots)*hashMiB
	verdict := "met"
	if f.peakMiB > budget {
		verdict = "missed"
	}
	fmt.Fprintf(&b, "\nLogin flood: %d concurrent logins, %d served, %d refused with 503, %d other. Peak RSS of authd during the flood (VmHWM): %.1f MiB; budget 64 MiB + %d hash slots × %.0f MiB = %.0f MiB (%s).\n",
		f.n, f.ok, f.busy, f.other, f.peakMiB, slots, hashMiB, budget, verdict)
	return b.String()
}

// machine describes where the figures come from.
func machine() string {
	model, mem := "unknown CPU", "unknown memory"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("Machine: %s, %d CPUs, %s; %s; measured %s.", model, runtime.NumCPU(), mem, runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 MST"))
}

func decode[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
