package app

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The house rules of size (issue 13). A file or a function past its limit is
// split along a seam of its own, not trimmed to fit: long files and functions
// are where reviews miss things.
const (
	maxGoFileLines = 500 // a Go file that is not a test
	maxFuncLines   = 80  // the body of a Go function or method that is not in a test file
	maxJSFileLines = 600 // a .js file under frontend/, its tests included
	// maxTableGlueLines is how many lines of a long function's body may lie
	// outside its composite literals for it to count as a table.
	maxTableGlueLines = 10
)

// TestSizeLimits walks the module and lists every file and function over the
// house limits, in one failure, so that one run shows all the work.
//
// A function's size is the lines of its body, from the line of its opening
// brace to the line of its closing one. A function that is a table is exempt:
// a long list of data reads top to bottom and gains nothing from being cut up.
// A function is a table when at most maxTableGlueLines lines of its body lie
// outside composite literals (the braces, and a return or var around one big
// literal) and none of those literals holds a function literal: a table of
// closures is code, and is measured as code.
//
// Generated Go files (ast.IsGenerated) are not written by hand and are
// skipped.
func TestSizeLimits(t *testing.T) {
	root := filepath.Join("..") // the module root, seen from app/
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("the module root is not at %s: %v", root, err)
	}
	var offenders, tables []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipSizeDir(d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasSuffix(rel, ".go") && !strings.HasSuffix(rel, "_test.go"):
			found, exempt, err := checkGoFile(path, rel)
			offenders = append(offenders, found...)
			tables = append(tables, exempt...)
			return err
		case strings.HasSuffix(rel, ".js") && strings.HasPrefix(rel, "frontend/"):
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if n := countLines(data); n > maxJSFileLines {
				offenders = append(offenders, fmt.Sprintf("%s: %d lines (a frontend .js file: at most %d)", rel, n, maxJSFileLines))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		t.Logf("exempt as a table: %s", table)
	}
	if len(offenders) > 0 {
		slices.Sort(offenders)
		t.Errorf("%d over the size limits; split them:\n\t%s", len(offenders), strings.Join(offenders, "\n\t"))
	}
}

// skipSizeDir reports whether a directory holds nothing of ours to measure:
// installed packages, git's own files, test data and hidden directories.
func skipSizeDir(name string) bool {
	return name == "node_modules" || name == "testdata" || strings.HasPrefix(name, ".")
}

// checkGoFile measures a non-test Go file and each function in it. It
// returns the offenders, and the long functions exempt as tables.
func checkGoFile(path, rel string) (offenders, tables []string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, data, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, nil, err
	}
	if ast.IsGenerated(file) {
		return nil, nil, nil
	}
	if n := countLines(data); n > maxGoFileLines {
		offenders = append(offenders, fmt.Sprintf("%s: %d lines (a Go file: at most %d)", rel, n, maxGoFileLines))
	}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		first, last := fset.Position(fn.Body.Lbrace).Line, fset.Position(fn.Body.Rbrace).Line
		lines := last - first + 1
		if lines <= maxFuncLines {
			continue
		}
		where := fmt.Sprintf("%s:%d: %s: %d lines", rel, fset.Position(fn.Pos()).Line, funcName(fn), lines)
		if isTable(fset, fn.Body, lines) {
			tables = append(tables, where)
			continue
		}
		offenders = append(offenders, fmt.Sprintf("%s (a function: at most %d)", where, maxFuncLines))
	}
	return offenders, tables, nil
}

// isTable reports whether a function body of the given length is a table:
// at most maxTableGlueLines of its lines lie outside its outermost composite
// literals, and no literal holds a function literal.
func isTable(fset *token.FileSet, body *ast.BlockStmt, lines int) bool {
	inLiteral := map[int]bool{}
	hasFunc := false
	ast.Inspect(body, func(n ast.Node) bool {
		lit, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		ast.Inspect(lit, func(n ast.Node) bool {
			if _, ok := n.(*ast.FuncLit); ok {
				hasFunc = true
			}
			return !hasFunc
		})
		for line := fset.Position(lit.Pos()).Line; line <= fset.Position(lit.End()).Line; line++ {
			inLiteral[line] = true
		}
		return false // the literals inside it are already counted
	})
	return !hasFunc && lines-len(inLiteral) <= maxTableGlueLines
}

// funcName is a function's name as Go spells a method expression:
// Type.Method for a method, name for a function.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	typ := fn.Recv.List[0].Type
	for {
		switch x := typ.(type) {
		case *ast.StarExpr:
			typ = x.X
			continue
		case *ast.IndexExpr: // a generic type's receiver: T[K]
			typ = x.X
			continue
		case *ast.IndexListExpr:
			typ = x.X
			continue
		case *ast.Ident:
			return x.Name + "." + fn.Name.Name
		}
		return fn.Name.Name
	}
}

// countLines counts lines as an editor shows them: a last line without its
// newline still counts.
func countLines(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}

// TestIsTable pins the table rule down on three long functions: a table, a
// table with too much code around it, and a table of closures.
func TestIsTable(t *testing.T) {
	rows := strings.Repeat("\t\t{\"a\", 1},\n", maxFuncLines)
	for _, tt := range []struct {
		name, body string
		table      bool
	}{
		{"one returned literal", "\treturn []row{\n" + rows + "\t}\n", true},
		{"a literal and glue", "\tvar rows = []row{\n" + rows + "\t}\n" + strings.Repeat("\tuse(rows)\n", maxTableGlueLines-3) + "\treturn rows\n", true},
		{"a literal and code", "\tvar rows = []row{\n" + rows + "\t}\n" + strings.Repeat("\tuse(rows)\n", maxTableGlueLines) + "\treturn rows\n", false},
		{"closures", "\treturn []func(){\n" + strings.Repeat("\t\tfunc() {},\n", maxFuncLines) + "\t}\n", false},
	} {
		src := "package p\n\nfunc f() []row {\n" + tt.body + "}\n"
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, "f.go", src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		body := file.Decls[0].(*ast.FuncDecl).Body
		lines := fset.Position(body.Rbrace).Line - fset.Position(body.Lbrace).Line + 1
		if got := isTable(fset, body, lines); got != tt.table {
			t.Errorf("%s (%d lines): table = %v, want %v", tt.name, lines, got, tt.table)
		}
	}
}
