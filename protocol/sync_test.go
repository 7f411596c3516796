package protocol

import (
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The protocol is defined once, here in Go; frontend/js/protocol.js mirrors
// it and docs/PROTOCOL.md documents it. This test keeps the three in step:
// every message type, error code and close code of the Go package is in
// the JavaScript mirror with the same value and nothing more, and the
// document names each of them.

// goConstants returns the constants of this package (its non-test files)
// whose names start with prefix, by name: strings unquoted, numbers as
// their decimal text.
func goConstants(t *testing.T, prefix string) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range pkgs {
		for _, f := range p.Files {
			files = append(files, f)
		}
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: nil, Error: func(error) {}}
	_, _ = conf.Check("protocol", fset, files, info)
	out := map[string]string{}
	for id, obj := range info.Defs {
		c, ok := obj.(*types.Const)
		if !ok || !strings.HasPrefix(id.Name, prefix) || obj.Parent() != obj.Pkg().Scope() {
			continue
		}
		switch c.Val().Kind() {
		case constant.String:
			out[id.Name] = constant.StringVal(c.Val())
		case constant.Int:
			out[id.Name] = c.Val().ExactString()
		}
	}
	return out
}

// jsBlock returns the entries NAME: value of the frozen object `export const
// name = Object.freeze({ ... })` in protocol.js, by name.
func jsBlock(t *testing.T, js, name string) map[string]string {
	t.Helper()
	start := strings.Index(js, "export const "+name+" = Object.freeze({")
	if start < 0 {
		t.Fatalf("protocol.js has no %s", name)
	}
	end := strings.Index(js[start:], "\n});")
	if end < 0 {
		t.Fatalf("protocol.js: %s does not end", name)
	}
	entry := regexp.MustCompile(`(?m)^\s+([A-Z][A-Z0-9_]*): ('([^']*)'|(\d+)),`)
	out := map[string]string{}
	for _, m := range entry.FindAllStringSubmatch(js[start:start+end], -1) {
		v := m[3]
		if m[4] != "" {
			v = m[4]
		}
		out[m[1]] = v
	}
	return out
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func readRepoFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// sameValues fails unless the Go and JavaScript sets of values are equal,
// naming what each side lacks.
func sameValues(t *testing.T, what string, goSet, jsSet map[string]string) {
	t.Helper()
	gv, jv := values(goSet), values(jsSet)
	for _, v := range gv {
		if !slices.Contains(jv, v) {
			t.Errorf("%s %q is defined in Go but missing from frontend/js/protocol.js", what, v)
		}
	}
	for _, v := range jv {
		if !slices.Contains(gv, v) {
			t.Errorf("%s %q is in frontend/js/protocol.js but not defined in Go (protocol/)", what, v)
		}
	}
	if len(gv) == 0 {
		t.Errorf("no %s found in Go: the test reads nothing", what)
	}
}

func TestJavaScriptMirrorsGo(t *testing.T) {
	js := readRepoFile(t, "frontend/js/protocol.js")
	sameValues(t, "message type", goConstants(t, "Type"), jsBlock(t, js, "MessageType"))
	sameValues(t, "error code", goConstants(t, "Code"), jsBlock(t, js, "ErrorCode"))
	sameValues(t, "close code", goConstants(t, "Close"), jsBlock(t, js, "CloseCode"))
}

func TestDocumentNamesEveryCode(t *testing.T) {
	doc := readRepoFile(t, "docs/PROTOCOL.md")
	for _, v := range values(goConstants(t, "Type")) {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/PROTOCOL.md does not name the message type `%s`", v)
		}
	}
	for _, v := range values(goConstants(t, "Code")) {
		if !strings.Contains(doc, "`"+v+"`") {
			t.Errorf("docs/PROTOCOL.md does not name the error code `%s`", v)
		}
	}
	closeRow := regexp.MustCompile(`(?m)^\| (\d{4}) \|`)
	var documented []string
	for _, m := range closeRow.FindAllStringSubmatch(doc, -1) {
		documented = append(documented, m[1])
	}
	for _, v := range values(goConstants(t, "Close")) {
		if !slices.Contains(documented, v) {
			t.Errorf("docs/PROTOCOL.md's close code table has no row for %s", v)
		}
	}
	if _, err := strconv.Atoi(values(goConstants(t, "Close"))[0]); err != nil {
		t.Errorf("close codes are not numbers: %v", err)
	}
}
