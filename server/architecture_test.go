package server_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The walls of docs/architecture.md, checked over the source of the whole
// module (tests excluded: they may use SQL and read TEST_DATABASE_URL).

const module = "github.com/authd/authd"

// sourceFile is one non-test Go file of the module, parsed.
type sourceFile struct {
	path string // relative to the module root, with slashes
	ast  *ast.File
}

func moduleSources(t *testing.T) []sourceFile {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	var files []sourceFile
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "tools" || rel == "clients" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir // other modules (tools/), npm trees and the client examples
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files = append(files, sourceFile{rel, f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d source files under %s", len(files), root)
	}
	return files
}

func imports(f sourceFile) []string {
	var out []string
	for _, imp := range f.ast.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		out = append(out, p)
	}
	return out
}

func TestArchitecture_GenImportsNothingHandWritten(t *testing.T) {
	tests, err := filepath.Glob("../gen/*/*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range tests {
		t.Errorf("%s: gen/ holds only generated code, no tests (they would build what they import)", f)
	}
	for _, f := range moduleSources(t) {
		if !strings.HasPrefix(f.path, "gen/") {
			continue
		}
		for _, p := range imports(f) {
			if strings.HasPrefix(p, module) && !strings.HasPrefix(p, module+"/gen/") {
				t.Errorf("%s imports %s: gen/ holds only generated code", f.path, p)
			}
		}
	}
}

func TestArchitecture_ConcernPackagesNeverImportServer(t *testing.T) {
	for _, f := range moduleSources(t) {
		dir := filepath.ToSlash(filepath.Dir(f.path))
		// testkit builds the whole service for tests: it sits above server.
		if !strings.HasPrefix(dir, "server/") || dir == "server/testkit" {
			continue
		}
		for _, p := range imports(f) {
			if p == module+"/server" {
				t.Errorf("%s imports %s: server/<concern>/ packages are called by server, never the other way round", f.path, p)
			}
		}
	}
}

func TestArchitecture_OnlyCmdReadsTheEnvironment(t *testing.T) {
	readers := map[string]bool{"Getenv": true, "LookupEnv": true, "Environ": true, "ExpandEnv": true}
	for _, f := range moduleSources(t) {
		// testkit's one read is TEST_DATABASE_URL, the tests' database.
		if strings.HasPrefix(f.path, "cmd/") || strings.HasPrefix(f.path, "server/testkit/") {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "os" && readers[sel.Sel.Name] {
				t.Errorf("%s calls os.%s: only cmd/ reads the environment", f.path, sel.Sel.Name)
			}
			return true
		})
	}
}

// sqlStatement matches a string that starts like a SQL statement (a DDL
// verb with its object: the word "create" alone is a subcommand's name).
var sqlStatement = regexp.MustCompile(`(?i)^\s*(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|WITH\s+\w+\s+AS|(CREATE|ALTER|DROP|TRUNCATE)\s+\w)`)

func TestArchitecture_NoSQLOutsideSchemaAndQueries(t *testing.T) {
	// CREATE DATABASE names an identifier, which sqlc cannot bind: the
	// development start creates its database there (database.EnsureExists).
	allowed := map[string]string{"server/database/pool.go": "CREATE DATABASE "}
	for _, f := range moduleSources(t) {
		if strings.HasPrefix(f.path, "gen/db/") || strings.HasPrefix(f.path, "server/testkit/") {
			continue
		}
		ast.Inspect(f.ast, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil || !sqlStatement.MatchString(s) {
				return true
			}
			if prefix, ok := allowed[f.path]; ok && strings.HasPrefix(s, prefix) {
				return true
			}
			t.Errorf("%s holds SQL %q: statements live in queries/ (sqlc) and schema/", f.path, s)
			return true
		})
	}
}
