package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// cpuTimes is processor time used: by the whole machine (whatever ran on
// it), by authd and by PostgreSQL's processes. Per operation, it shows where
// a scenario's time went beside the work its ceiling does.
type cpuTimes struct{ machine, authd, postgres time.Duration }

func (c cpuTimes) plus(o cpuTimes) cpuTimes {
	return cpuTimes{c.machine + o.machine, c.authd + o.authd, c.postgres + o.postgres}
}

func (c cpuTimes) minus(o cpuTimes) cpuTimes {
	return cpuTimes{c.machine - o.machine, c.authd - o.authd, c.postgres - o.postgres}
}

// authdPID is the authd process whose time readCPU reports; 0 before it runs.
var authdPID int

func readCPU() cpuTimes {
	var t cpuTimes
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		// cpu user nice system idle iowait irq softirq steal ...: busy is
		// all but idle, iowait and time the hypervisor gave to others.
		f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
		for _, i := range []int{1, 2, 3, 6, 7} {
			t.machine += ticks(f[i])
		}
	}
	if authdPID != 0 {
		t.authd = processCPU(authdPID)
	}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		if pid, err := strconv.Atoi(d.Name()); err == nil {
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "postgres" {
				t.postgres += processCPU(pid)
			}
		}
	}
	return t
}

// processCPU is a process's user and system time, and that of its children
// that have exited (for PostgreSQL's postmaster: backends that are gone),
// from /proc/<pid>/stat.
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0 // it has exited
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])         // the name may hold spaces
	return ticks(f[11]) + ticks(f[12]) + ticks(f[13]) + ticks(f[14]) // fields 14-17: utime, stime, cutime, cstime
}

// ticks converts /proc's clock ticks, always 1/100 s (USER_HZ), to a duration.
func ticks(s string) time.Duration {
	n, _ := strconv.ParseInt(s, 10, 64)
	return time.Duration(n) * 10 * time.Millisecond
}

// perOp is d per operation of r, in microseconds.
func perOp(d time.Duration, r result) string {
	if r.ops == 0 {
		return ""
	}
	return fmt.Sprintf("%.0f", float64(d.Microseconds())/float64(r.ops))
}
