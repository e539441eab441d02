package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profileLogin runs the login load for d while authd records a CPU profile
// and the allocations made meanwhile, and renders the top of each with go
// tool pprof, as markdown. A build that serves no profiles says so.
func profileLogin(a *authd, users []user, d time.Duration) (string, error) {
	status, _, err := send(a.http, "GET", a.private+"/debug/pprof/", "", nil)
	switch {
	case err != nil:
		return fmt.Sprintf("no profile: the private listener does not answer (%v)\n", err), nil
	case status == http.StatusNotFound:
		return "no profile: this build serves no /debug/pprof\n", nil
	case status != http.StatusOK:
		return "", fmt.Errorf("GET /debug/pprof/: %d", status)
	}
	login, err := loadOf("login", a, users)
	if err != nil {
		return "", err
	}
	secs := max(1, int(d.Round(time.Second)/time.Second))
	dir := filepath.Dir(a.bin)
	cpuFile, allocFile := filepath.Join(dir, "login.cpu.pprof"), filepath.Join(dir, "login.allocs.pprof")
	window := time.Duration(secs) * time.Second
	// The load starts a second before the profiles: Go counts allocations
	// at garbage collections, so the window's first collection would
	// otherwise count what an earlier scenario allocated.
	busy := make(chan struct{})
	go func() { closedLoop(login.workers, window+2*time.Second, login.op); close(busy) }()
	time.Sleep(time.Second)
	var cpuErr, allocErr error
	var wg sync.WaitGroup
	// Both over the same seconds: allocs with seconds= is the difference
	// between its start and end, not everything since authd started.
	wg.Go(func() {
		cpuErr = fetchProfile(fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", a.private, secs), cpuFile, window)
	})
	wg.Go(func() {
		allocErr = fetchProfile(fmt.Sprintf("%s/debug/pprof/allocs?seconds=%d", a.private, secs), allocFile, window)
	})
	wg.Wait()
	<-busy
	if cpuErr != nil {
		return "", cpuErr
	}
	if allocErr != nil {
		return "", allocErr
	}
	cpu, err := pprofTop(a.bin, cpuFile)
	if err != nil {
		return "", err
	}
	allocs, err := pprofTop(a.bin, allocFile, "-sample_index=alloc_space")
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("Processor time over %d s of login at concurrency %d (`go tool pprof -top -nodecount=15`):\n\n```text\n%s\n```\n\n"+
		"Bytes allocated over the same %d s (`-sample_index=alloc_space`):\n\n```text\n%s\n```\n", secs, login.workers, cpu, secs, allocs), nil
}

// fetchProfile saves to file what url answers after the profile's window.
func fetchProfile(url, file string, window time.Duration) error {
	c := &http.Client{Timeout: window + time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	f, err := os.Create(file) //nolint:gosec // G304: a path bench made in its own temporary directory
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// pprofTop is go tool pprof's top 15 of a profile, symbols from bin.
func pprofTop(bin, file string, options ...string) (string, error) {
	args := append([]string{"tool", "pprof", "-top", "-nodecount=15"}, options...)
	cmd := exec.Command("go", append(args, bin, file)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go tool pprof %s: %w: %s", file, err, stderr.String())
	}
	// Its lines can end in spaces, which a committed file should not hold.
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n"), nil
}
