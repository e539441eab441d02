// Command bench measures authd against the ceilings that bound it, side by
// side in one run: on a shared, noisy machine absolute figures drift, but
// ratios hold. It starts a release build of authd on a throwaway database,
// runs each scenario in alternating turns with its ceiling, prints a table
// of authd / ceiling ratios with a login profile and writes them to
// bench/results.md. With -compare it measures authd at another commit
// against the working tree's instead. It exits non-zero only when the
// harness itself fails.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/authd/authd/server/config"
)

// settings are how long and how often each load is measured, and where
// the results go.
type settings struct {
	turns       int
	turnTime    time.Duration
	profileTime time.Duration
	out         string
}

func main() {
	var s settings
	flag.IntVar(&s.turns, "turns", minTurns, fmt.Sprintf("turns of each load per scenario (at least %d)", minTurns))
	flag.DurationVar(&s.turnTime, "turn-time", 3*time.Second, "measured time of one turn of one load (a fifth more is warm-up)")
	flag.DurationVar(&s.profileTime, "profile-time", 10*time.Second, "how long login is profiled")
	flag.StringVar(&s.out, "out", "bench/results.md", "the results file; each command rewrites its own part")
	base := flag.String("compare", "", "measure authd at this commit against the working tree's (make bench-compare)")
	soakFor := flag.Duration("soak", 0, "instead of benchmarking, send mixed traffic for this long (make soak)")
	rate := flag.Int("rate", 200, "requests per second during a soak")
	meCeilingProcess := flag.Bool("serve-me-ceiling", false, "internal: be the GET /users/me ceiling process")
	ceilingDB := flag.String("ceiling-db", "", "internal: the ceiling process's database URL")
	ceilingJWKS := flag.String("ceiling-jwks", "", "internal: the public keys the ceiling process verifies with")
	flag.Parse()
	var err error
	switch {
	case *meCeilingProcess:
		err = serveMeCeiling(*ceilingDB, *ceilingJWKS)
	case *soakFor > 0:
		err = runSoak(*soakFor, *rate)
	case s.turns < minTurns:
		err = fmt.Errorf("-turns %d: at least %d, or the median and its range say little", s.turns, minTurns)
	case *base != "":
		err = runCompare(context.Background(), *base, s)
	default:
		err = run(context.Background(), s)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name           string
	workers        int
	authd, ceiling series
	target         float64 // minimum median authd/ceiling; 0: none
	ceilingName    string
}

func run(ctx context.Context, s settings) error {
	defaults, err := config.Load(map[string]string{"AUTHD_ENV": config.EnvDevelopment}) // what authd runs with here
	if err != nil {
		return err
	}
	a, dbURL, users, stop, err := startWorkingTree(ctx)
	if err != nil {
		return err
	}
	defer stop()
	authdPID = a.cmd.Process.Pid
	pool, err := ceilingPool(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()

	var rows []row
	say := func(r row) {
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "%-10s %s", r.name, spreadOf(r.authd.rates()).perSecond())
		if r.ceilingName != "" {
			fmt.Fprintf(os.Stderr, "  ratio %s", spreadOf(ratios(r.authd, r.ceiling)).percent())
		}
		fmt.Fprintln(os.Stderr)
	}
	register, err := loadOf("register", a, users)
	if err != nil {
		return err
	}
	login, err := loadOf("login", a, users)
	if err != nil {
		return err
	}
	// One hash ceiling turn serves both hashing scenarios' ratios.
	m := turns(s.turns, s.turnTime, register, login, hashCeiling(defaults))
	say(row{name: "register", workers: register.workers, authd: m[0], ceiling: m[2], ceilingName: "x/crypto argon2id on all cores"})
	say(row{name: "login", workers: login.workers, authd: m[1], ceiling: m[2], target: 0.90, ceilingName: "x/crypto argon2id on all cores"})

	refresh, err := loadOf("refresh", a, users)
	if err != nil {
		return err
	}
	rotation, err := rotationCeiling(ctx, pool, users[0].id, refresh.workers)
	if err != nil {
		return err
	}
	m = turns(s.turns, s.turnTime, refresh, rotation)
	say(row{name: "refresh", workers: refresh.workers, authd: m[0], ceiling: m[1], target: 0.60, ceilingName: "rotation transaction: the same sqlc queries (pgx)"})

	keys, err := call(a.http, "GET", a.url+"/.well-known/jwks.json", "", nil, 200)
	if err != nil {
		return err
	}
	ceilURL, stopCeiling, err := meCeiling(dbURL, keys)
	if err != nil {
		return err
	}
	defer stopCeiling()
	me, err := loadOf("users/me", a, users)
	if err != nil {
		return err
	}
	pair, err := a.login(users[0].email)
	if err != nil {
		return err
	}
	m = turns(s.turns, s.turnTime, me,
		load{me.workers, func(int) error { _, err := call(a.http, "GET", ceilURL, pair.AccessToken, nil, 200); return err }})
	say(row{name: "users/me", workers: me.workers, authd: m[0], ceiling: m[1], target: 0.70, ceilingName: "Echo + jwx verify + one pgx PK select"})

	jwks, err := loadOf("jwks", a, users)
	if err != nil {
		return err
	}
	say(row{name: "jwks", workers: jwks.workers, authd: turns(s.turns, s.turnTime, jwks)[0]})

	flood, err := a.loginFlood(users, 200)
	if err != nil {
		return err
	}
	// Last, after the turns: a profile running costs authd a few per cent.
	profile, err := profileLogin(a, users, s.profileTime)
	if err != nil {
		return err
	}
	text := render(rows, s, flood, int(defaults.HashSlots()), float64(defaults.Argon2MemoryKiB)/1024) + "\n## Login profile\n\n" + profile
	fmt.Println(text)
	return writeBench(s.out, text)
}

func runSoak(d time.Duration, rate int) error {
	a, _, users, stop, err := startWorkingTree(context.Background())
	if err != nil {
		return err
	}
	defer stop()
	return soak(a, users, d, rate)
}

func decode[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
