package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// side is one build under comparison, started on its own seeded database.
type side struct {
	label string
	a     *authd
	users []user
}

// runCompare measures authd built at base against the working tree's: both
// run at once, each scenario in alternating turns of the two, so that both
// see the same machine. It prints the table and writes it to the results
// file as the compare section.
func runCompare(ctx context.Context, base string, s settings) error {
	hash, err := git(ctx, "rev-parse", "--verify", "--end-of-options", base+"^{commit}")
	if err != nil {
		return err
	}
	short, err := git(ctx, "rev-parse", "--short", hash)
	if err != nil {
		return err
	}
	head, err := headLabel(ctx)
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp("", "authd-compare")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(work) }()
	baseBin, err := buildAt(ctx, hash, work)
	if err != nil {
		return err
	}
	headBin, err := build(ctx, ".", filepath.Join(work, "head"))
	if err != nil {
		return err
	}
	sides := []*side{{label: "base " + short}, {label: "head " + head}}
	for i, bin := range []string{baseBin, headBin} {
		a, _, users, stop, err := startRun(ctx, bin)
		if err != nil {
			return fmt.Errorf("%s: %w", sides[i].label, err)
		}
		defer stop()
		sides[i].a, sides[i].users = a, users
	}

	var rows []compareRow
	for _, sc := range scenarios {
		var loads []load
		for _, sd := range sides {
			l, err := loadOf(sc.name, sd.a, sd.users)
			if err != nil {
				return fmt.Errorf("%s: %w", sd.label, err)
			}
			loads = append(loads, l)
		}
		m := turns(s.turns, s.turnTime, loads...)
		r := compareRow{name: sc.name, workers: sc.workers, base: m[0], head: m[1]}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "%-10s base %s  head %s  %s\n", r.name, r.baseRates().perSecond(), r.headRates().perSecond(), r.verdict())
	}
	// Last, after the turns, as in make bench.
	var profiles []string
	for _, sd := range sides {
		p, err := profileLogin(sd.a, sd.users, s.profileTime)
		if err != nil {
			return fmt.Errorf("%s: %w", sd.label, err)
		}
		profiles = append(profiles, fmt.Sprintf("### Login profile, %s\n\n%s", sd.label, p))
	}
	text := renderCompare(short, head, rows, s) + "\n" + strings.Join(profiles, "\n")
	fmt.Println(text)
	return writeCompare(s.out, text)
}

type compareRow struct {
	name       string
	workers    int
	base, head series
}

func (r compareRow) baseRates() spread { return spreadOf(r.base.rates()) }
func (r compareRow) headRates() spread { return spreadOf(r.head.rates()) }

// verdict calls a difference only when no turn of one build was as fast as
// a turn of the other.
func (r compareRow) verdict() string {
	b, h := r.baseRates(), r.headRates()
	switch {
	case b.overlaps(h):
		return "within noise"
	case h.median > b.median:
		return "faster"
	default:
		return "slower"
	}
}

func renderCompare(short, head string, rows []compareRow, s settings) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s%s\n\n%s\n\n", compareHeading, short, machine())
	fmt.Fprintf(&b, "Base: authd built at %s; head: authd built from the working tree at %s. "+
		"Both run at once, each on its own database seeded alike; each scenario runs %d turns of %s per build, "+
		"alternating the builds and which goes first. A rate is the median turn's, with the lowest and highest turn's in brackets; "+
		"\"within noise\" means the two ranges overlap, so this run cannot tell the builds apart.\n\n", short, head, s.turns, s.turnTime)
	b.WriteString("| scenario | concurrency | base | head | head/base | verdict |\n|---|---|---|---|---|---|\n")
	for _, r := range rows {
		base, head := r.baseRates(), r.headRates()
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %.0f %% | %s |\n", r.name, r.workers, base.perSecond(), head.perSecond(), 100*head.median/base.median, r.verdict())
	}
	return b.String()
}

// buildAt builds authd as it was at commit, in a worktree of its own that
// is removed after the build.
func buildAt(ctx context.Context, commit, work string) (string, error) {
	src := filepath.Join(work, "base-src")
	if _, err := git(ctx, "worktree", "add", "--detach", src, commit); err != nil {
		return "", err
	}
	defer func() {
		if _, err := git(context.Background(), "worktree", "remove", "--force", src); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}()
	return build(ctx, src, filepath.Join(work, "base"))
}

// headLabel names what the working tree holds: HEAD's short hash, and
// whether tracked files differ from it outside bench/, which is not built
// into authd.
func headLabel(ctx context.Context) (string, error) {
	short, err := git(ctx, "rev-parse", "--short", "HEAD")
	if err != nil {
		return "", err
	}
	changed, err := git(ctx, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/")
	if err != nil {
		return "", err
	}
	if changed != "" {
		short += " with uncommitted changes"
	}
	return short, nil
}

// git runs a git command and returns its output, trimmed.
func git(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%w: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}
