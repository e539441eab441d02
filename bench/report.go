package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
)

// render is make bench's part of the results: the ratio table, processor
// time per operation and the login flood.
func render(rows []row, s settings, f floodResult, slots int, hashMiB float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# authd benchmark results\n\n%s\n\n", machine())
	fmt.Fprintf(&b, "Closed loop at the stated concurrency, client and server on this machine. "+
		"Each scenario runs %d turns of %s; one with a ceiling alternates with it, and which of the two goes first alternates too. "+
		"A turn's ratio is authd's rate over the ceiling's in that turn. "+
		"Rates are medians over the turns; a ratio is the median with the lowest and highest turn in brackets, "+
		"and the target is judged on the median. p50 and p99 are over every turn's requests.\n\n", s.turns, s.turnTime)
	b.WriteString("| scenario | concurrency | authd | p50 | p99 | failed | ceiling | ceiling rate | ratio | target |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		all := r.authd.pooled()
		ratio, target, ceil, rate := "", "", "", ""
		if r.ceilingName != "" {
			q := spreadOf(ratios(r.authd, r.ceiling))
			ceil, rate, ratio = r.ceilingName, fmt.Sprintf("%.0f/s", spreadOf(r.ceiling.rates()).median), q.percent()
			if r.target > 0 {
				verdict := "met"
				if q.median < r.target {
					verdict = "missed"
				}
				target = fmt.Sprintf("≥ %.0f %% (%s)", 100*r.target, verdict)
			}
		}
		fmt.Fprintf(&b, "| %s | %d | %.0f/s | %s | %s | %d | %s | %s | %s | %s |\n", r.name, r.workers, spreadOf(r.authd.rates()).median,
			all.p50().Round(10*time.Microsecond), all.p99().Round(10*time.Microsecond), all.failures, ceil, rate, ratio, target)
	}
	b.WriteString("\nProcessor time per operation in µs, over all turns: busy time of the whole machine, whatever ran on it (authd or the ceiling, PostgreSQL, the load generator, and anything else; not time the hypervisor gave to other machines), and the parts of it spent in authd and in PostgreSQL.\n\n")
	b.WriteString("| scenario | machine | authd | PostgreSQL | ceiling: machine | ceiling: PostgreSQL |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		a, c := r.authd.pooled(), r.ceiling.pooled()
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.name, perOp(a.cpu.machine, a), perOp(a.cpu.authd, a),
			perOp(a.cpu.postgres, a), perOp(c.cpu.machine, c), perOp(c.cpu.postgres, c))
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
