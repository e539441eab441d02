package config

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// TestEnvExample_StatesWhatEachVariableAllows: every variable, or the group
// of variables it is written with (no line between them), comes right after
// a comment that says what start-up accepts.
func TestEnvExample_StatesWhatEachVariableAllows(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var comment []string // the comment lines right above
	previousWasVariable := false
	for sc := bufio.NewScanner(f); sc.Scan(); {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			comment, previousWasVariable = nil, false
		case strings.HasPrefix(line, "#"):
			if previousWasVariable {
				comment = nil
			}
			comment, previousWasVariable = append(comment, line), false
		default:
			name, _, _ := strings.Cut(line, "=")
			if !previousWasVariable && !strings.Contains(strings.Join(comment, " "), "Allowed:") {
				t.Errorf(".env.example: %s has no \"Allowed:\" in the comment above it", name)
			}
			previousWasVariable = true
		}
	}
}
