package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResults_EachCommandKeepsTheOthersPart: make bench rewrites its part
// and keeps the compare section, and make bench-compare replaces only that
// section, even when a profile block between them holds a "## " line.
func TestResults_EachCommandKeepsTheOthersPart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "results.md")
	step := func(write func(string, string) error, text string) string {
		t.Helper()
		if err := write(path, text); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	step(writeCompare, compareHeading+"aaaaaaa\n\nold table\n")
	got := step(writeBench, "# results\n\none\n\n## Login profile\n\n```text\n## not a heading\n```\n")
	if !strings.HasPrefix(got, "# results\n") || !strings.Contains(got, "old table") {
		t.Fatalf("make bench lost the compare section or its own place:\n%s", got)
	}
	got = step(writeCompare, compareHeading+"bbbbbbb\n\nnew table\n")
	if strings.Contains(got, "old table") || !strings.Contains(got, "new table") || !strings.Contains(got, "## not a heading") {
		t.Fatalf("make bench-compare did not replace only its section:\n%s", got)
	}
	got = step(writeBench, "# results\n\ntwo\n")
	want := "# results\n\ntwo\n\n" + compareHeading + "bbbbbbb\n\nnew table\n"
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSpread_MedianRangeAndOverlap(t *testing.T) {
	s := spreadOf([]float64{0.91, 0.84, 0.88, 0.90, 0.86})
	if s != (spread{0.88, 0.84, 0.91}) || s.percent() != "88 % (84–91)" {
		t.Errorf("spread %+v, %q", s, s.percent())
	}
	if !s.overlaps(spread{0.95, 0.91, 0.99}) || s.overlaps(spread{0.95, 0.92, 0.99}) {
		t.Error("ranges that share a point overlap; ranges apart do not")
	}
}
