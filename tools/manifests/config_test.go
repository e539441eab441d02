package manifests

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the authd repository, from this module's directory.
const repoRoot = "../.."

// runtimeVariables are read by the Go runtime, not by server/config.
var runtimeVariables = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GODEBUG": true}

// configVariables returns every variable server/config reads: the env tags
// of its Config struct, parsed from the source so that this module need not
// import authd's.
func configVariables(t *testing.T) map[string]bool {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), repoRoot+"/server/config/config.go", nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		spec, ok := n.(*ast.TypeSpec)
		if !ok || spec.Name.Name != "Config" {
			return true
		}
		for _, field := range spec.Type.(*ast.StructType).Fields.List {
			if field.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(field.Tag.Value)
			if err != nil {
				t.Fatal(err)
			}
			if name := reflect.StructTag(tag).Get("env"); name != "" {
				names[strings.Split(name, ",")[0]] = true
			}
		}
		return false
	})
	if len(names) < 40 || !names["AUTHD_JWT_KEYS_FILE"] || !names["DATABASE_URL"] {
		t.Fatalf("read only %d variables from server/config/config.go: has Config moved?", len(names))
	}
	return names
}

// checkVariables fails for each name authd would not read: a misspelt
// variable is silently ignored by authd, so only a test notices it.
func checkVariables(t *testing.T, where string, names []string) {
	t.Helper()
	known := configVariables(t)
	for _, name := range names {
		if !known[name] && !runtimeVariables[name] {
			t.Errorf("%s sets %s, which server/config does not read", where, name)
		}
	}
}
