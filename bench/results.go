package main

import (
	"errors"
	"io/fs"
	"os"
	"strings"
)

// The results file has two parts, each rewritten by its own command alone:
// what make bench measures, then the section make bench-compare writes,
// from compareHeading to the next second-level heading.
const compareHeading = "## Compared with "

// writeBench replaces make bench's part of the results file.
func writeBench(path, text string) error {
	_, compare, err := readResults(path)
	if err != nil {
		return err
	}
	return writeResults(path, text, compare)
}

// writeCompare replaces make bench-compare's section of the results file.
func writeCompare(path, text string) error {
	bench, _, err := readResults(path)
	if err != nil {
		return err
	}
	return writeResults(path, bench, text)
}

// readResults splits the results file into its two parts; a file not
// written yet has neither.
func readResults(path string) (bench, compare string, err error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the results file the operator named with -out
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	if err != nil {
		return "", "", err
	}
	var ours, theirs strings.Builder
	inCompare, inFence := false, false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "```"):
			inFence = !inFence // a profile's lines are text, never a heading
		case !inFence && strings.HasPrefix(l, "## "):
			inCompare = strings.HasPrefix(l, compareHeading)
		}
		if inCompare {
			theirs.WriteString(l)
		} else {
			ours.WriteString(l)
		}
	}
	return ours.String(), theirs.String(), nil
}

func writeResults(path, bench, compare string) error {
	var parts []string
	for _, p := range []string{bench, compare} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return os.WriteFile(path, []byte(strings.Join(parts, "\n\n")+"\n"), 0o644)
}
