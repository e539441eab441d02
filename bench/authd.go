package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/authd/authd/gen/client"
	"github.com/authd/authd/server/testkit"
)

const benchPassword = "Correct-Horse-Battery-7"

type authd struct {
	url     string // the public listener
	private string // the private listener: /metrics and, with AUTHD_PPROF, /debug/pprof/
	bin     string // the binary, which go tool pprof reads symbols from
	http    *http.Client
	cmd     *exec.Cmd
}

// startRun makes a throwaway database, starts the authd binary bin on it and
// seeds users; stop undoes it all.
func startRun(ctx context.Context, bin string) (a *authd, dbURL string, users []user, stop func(), err error) {
	dbURL, drop, err := testkit.CreateDatabase(ctx)
	if err != nil {
		return nil, "", nil, nil, err
	}
	if a, err = startAuthd(bin, dbURL); err != nil {
		drop()
		return nil, "", nil, nil, err
	}
	stop = func() { a.stop(); drop() }
	if users, err = a.seed(32); err != nil {
		stop()
		return nil, "", nil, nil, err
	}
	return a, dbURL, users, stop, nil
}

// startWorkingTree builds the working tree's authd into a temporary
// directory and starts it as startRun does; stop removes the directory too.
func startWorkingTree(ctx context.Context) (a *authd, dbURL string, users []user, stop func(), err error) {
	work, err := os.MkdirTemp("", "authd-bench")
	if err != nil {
		return nil, "", nil, nil, err
	}
	var stopRun func()
	bin, err := build(ctx, ".", work)
	if err == nil {
		a, dbURL, users, stopRun, err = startRun(ctx, bin)
	}
	if err != nil {
		_ = os.RemoveAll(work)
		return nil, "", nil, nil, err
	}
	return a, dbURL, users, func() { stopRun(); _ = os.RemoveAll(work) }, nil
}

// build compiles the authd of the module at src into dir as a release
// build, as make build does.
func build(ctx context.Context, src, dir string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(dir, "authd"))
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/authd")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build authd in %s: %w: %s", src, err, out)
	}
	return bin, nil
}

// startAuthd runs bin with rate limits off (a load test is not an attack),
// Go's profiles on its private listener and everything else at its
// defaults.
func startAuthd(bin, dbURL string) (*authd, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	private, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = filepath.Dir(bin) // no .env from the checkout
	// Only these settings: the caller's AUTHD_* variables do not change what is measured.
	cmd.Env = []string{"AUTHD_ENV=development", "AUTHD_ADDR=" + addr, "DATABASE_URL=" + dbURL,
		"AUTHD_RATE_LIMIT_ENABLED=false", "AUTHD_REQUIRE_VERIFIED_EMAIL=false", "AUTHD_LOG_LEVEL=info", "REDIS_URL=",
		"AUTHD_METRICS_ADDR=" + private, "AUTHD_PPROF=true"} // profiles cost nothing until one is asked for
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &authd{url: "http://" + addr, private: "http://" + private, bin: bin, cmd: cmd, http: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 256}, Timeout: 30 * time.Second,
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := call(a.http, "GET", a.url+"/readiness", "", nil, 200); err == nil {
			return a, nil
		} else if time.Now().After(deadline) {
			a.stop()
			return nil, fmt.Errorf("authd not ready after 30 s: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr is a loopback address with a port nothing listens on now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close() // only its free port was wanted
}

func (a *authd) stop() {
	_ = a.cmd.Process.Signal(os.Interrupt)
	_ = a.cmd.Wait()
}

type user struct{ id, email, access string }

func body(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func uniqueEmail() string { return "bench-" + strings.ToLower(rand.Text()) + "@example.com" }

// seed registers n users and logs each in once.
func (a *authd) seed(n int) ([]user, error) {
	users := make([]user, n)
	for i := range users {
		u := user{email: uniqueEmail()}
		b, err := call(a.http, "POST", a.url+"/auth/register", "", body(client.RegisterRequest{Email: u.email, Password: benchPassword}), 201)
		if err != nil {
			return nil, err
		}
		created, err := decode[client.User](b)
		if err != nil {
			return nil, err
		}
		u.id = created.Id.String()
		pair, err := a.login(u.email)
		if err != nil {
			return nil, err
		}
		u.access = pair.AccessToken
		users[i] = u
	}
	return users, nil
}

func (a *authd) login(email string) (client.TokenPair, error) {
	b, err := call(a.http, "POST", a.url+"/auth/login", "", body(client.LoginRequest{Email: email, Password: benchPassword}), 200)
	if err != nil {
		return client.TokenPair{}, err
	}
	return decode[client.TokenPair](b)
}

func (a *authd) register(int) error {
	_, err := call(a.http, "POST", a.url+"/auth/register", "", body(client.RegisterRequest{Email: uniqueEmail(), Password: benchPassword}), 201)
	return err
}

func (a *authd) loginAs(users []user) func(int) error {
	var next atomic.Int64
	return func(int) error {
		_, err := a.login(users[int(next.Add(1))%len(users)].email)
		return err
	}
}

// refreshChains gives each worker a session of its own and rotates it.
func (a *authd) refreshChains(users []user, workers int) (func(int) error, error) {
	current := make([]string, workers)
	for w := range current {
		pair, err := a.login(users[w%len(users)].email)
		if err != nil {
			return nil, err
		}
		current[w] = pair.RefreshToken
	}
	return func(w int) error {
		b, err := call(a.http, "POST", a.url+"/auth/refresh-token", "", body(client.RefreshRequest{RefreshToken: current[w]}), 200)
		if err != nil {
			return err
		}
		pair, err := decode[client.TokenPair](b)
		if err == nil {
			current[w] = pair.RefreshToken
		}
		return err
	}, nil
}

func (a *authd) get(path, bearer string) func(int) error {
	return func(int) error {
		_, err := call(a.http, "GET", a.url+path, bearer, nil, 200)
		return err
	}
}

type floodResult struct {
	n, ok, busy, other int
	peakMiB            float64
}

// loginFlood sends n logins at once on n connections and reads authd's
// peak resident memory during the flood from the kernel.
func (a *authd) loginFlood(users []user, n int) (floodResult, error) {
	// Writing 5 to clear_refs resets VmHWM to the current resident set, so
	// the peak read afterwards is the flood's, not an earlier scenario's.
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", a.cmd.Process.Pid), []byte("5"), 0); err != nil {
		return floodResult{}, fmt.Errorf("reset peak RSS: %w", err)
	}
	flood := &http.Client{Transport: &http.Transport{MaxConnsPerHost: n, MaxIdleConnsPerHost: n}, Timeout: time.Minute}
	var ok, busy, other atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			status, _, err := send(flood, "POST", a.url+"/auth/login", "", body(client.LoginRequest{Email: users[i%len(users)].email, Password: benchPassword}))
			switch {
			case err == nil && status == http.StatusOK:
				ok.Add(1)
			case err == nil && status == http.StatusServiceUnavailable:
				busy.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	peak, err := peakRSS(a.cmd.Process.Pid)
	return floodResult{n: n, ok: int(ok.Load()), busy: int(busy.Load()), other: int(other.Load()), peakMiB: peak}, err
}

// peakRSS is VmHWM, the process's high-water resident set, in MiB.
func peakRSS(pid int) (float64, error) { return procStatusMiB(pid, "VmHWM:") }

// procStatusMiB reads one kB field of /proc/<pid>/status, in MiB.
func procStatusMiB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field); ok {
			var kb float64
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no " + field + " in /proc status")
}
