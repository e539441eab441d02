package authd_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd"
)

// apiRow is one row of the README's "API at a glance" table.
type apiRow struct {
	line     string
	fields   []string // the request body's fields, from `{a, b?}`
	failures []string // the 4xx and 5xx statuses the row lists
}

var (
	tablePath   = regexp.MustCompile("`(/[^`?]*)[^`]*`")
	tableBody   = regexp.MustCompile("`\\{([^}]*)\\}`")
	tableStatus = regexp.MustCompile(`\b[45]\d\d\b`)
)

// readmeAPITable maps "METHOD /path" to its row of the README's API table.
func readmeAPITable(t *testing.T) map[string]apiRow {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## API at a glance\n")
	if !ok {
		t.Fatal("README has no API table")
	}
	rows := map[string]apiRow{}
	for _, line := range strings.Split(section, "\n")[3:] {
		if !strings.HasPrefix(line, "| ") {
			break
		}
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "/"), " | ")
		method, _, _ := strings.Cut(strings.TrimPrefix(cells[0], "| "), " ")
		row := apiRow{line: line, failures: tableStatus.FindAllString(cells[len(cells)-1], -1)}
		if m := tableBody.FindStringSubmatch(cells[0]); m != nil {
			for f := range strings.SplitSeq(m[1], ",") {
				row.fields = append(row.fields, strings.TrimSuffix(strings.TrimSpace(f), "?"))
			}
		}
		for _, p := range tablePath.FindAllStringSubmatch(cells[0], -1) {
			rows[method+" "+p[1]] = row
		}
	}
	return rows
}

// TestReadme_APITableMatchesTheSpec: every operation has a row, the row shows
// the request body's fields, and it lists exactly the spec's failure
// statuses (408 and 503 are stated once under the table for every operation).
func TestReadme_APITableMatchesTheSpec(t *testing.T) {
	spec, err := authd.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	rows := readmeAPITable(t)
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			row, ok := rows[method+" "+path]
			if !ok {
				t.Errorf("README API table has no row for %s %s", method, path)
				continue
			}
			var want []string
			for status := range op.Responses.Map() {
				if status[0] >= '4' && status != "408" && (status != "503" || path == "/readiness") {
					want = append(want, status)
				}
			}
			got := slices.Clone(row.failures)
			slices.Sort(want)
			slices.Sort(got)
			if got = slices.Compact(got); !slices.Equal(got, want) {
				t.Errorf("%s %s: README lists failures %v, the spec %v", method, path, got, want)
			}
			var fields []string
			if op.RequestBody != nil {
				if media := op.RequestBody.Value.Content.Get("application/json"); media != nil {
					for name := range media.Schema.Value.Properties {
						fields = append(fields, name)
					}
				}
			}
			slices.Sort(fields)
			gotFields := slices.Sorted(slices.Values(row.fields))
			if !slices.Equal(gotFields, fields) {
				t.Errorf("%s %s: README shows body %v, the spec %v", method, path, gotFields, fields)
			}
		}
	}
}
