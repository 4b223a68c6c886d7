package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestErrorsDocumented: every error message the validators can show an
// operator is listed in docs/errors.md with its fix. Messages are the
// format strings of fmt.Errorf, errors.New and config's fieldErr, verbs
// written as "…"; pure wrappers ("%s: %w") say nothing of their own.
func TestErrorsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z]`)
	words := regexp.MustCompile(`[A-Za-z]{2,}`)
	n := 0
	for _, pattern := range []string{"config/*.go", "secret/*.go", "trust/names/*.go", "steps/preflight.go", "internal/infile/*.go", "trust/keyfile.go"} {
		files, _ := filepath.Glob(filepath.Join("../..", pattern))
		if len(files) == 0 {
			t.Fatalf("no files match %s", pattern)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			for _, m := range messages(t, f) {
				text := verb.ReplaceAllString(m.text, "…")
				if len(words.FindAllString(text, -1)) < 2 {
					continue
				}
				n++
				if !strings.Contains(string(doc), text) {
					t.Errorf("%s: %q is not in docs/errors.md", m.pos, text)
				}
			}
		}
	}
	if n < 50 {
		t.Fatalf("found %d messages; the scan is broken", n)
	}
}

type message struct{ pos, text string }

// messages lists the literal format strings of a file's error calls.
func messages(t *testing.T, path string) []message {
	fs := token.NewFileSet()
	f, err := parser.ParseFile(fs, path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []message
	ast.Inspect(f, func(n ast.Node) bool {
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		arg := -1
		switch fn := c.Fun.(type) {
		case *ast.SelectorExpr:
			if x, ok := fn.X.(*ast.Ident); ok && (x.Name == "fmt" && fn.Sel.Name == "Errorf" || x.Name == "errors" && fn.Sel.Name == "New") {
				arg = 0
			}
		case *ast.Ident:
			if fn.Name == "fieldErr" {
				arg = 1
			}
		}
		if arg < 0 || len(c.Args) <= arg {
			return true
		}
		if lit, ok := c.Args[arg].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			if err == nil {
				out = append(out, message{fs.Position(c.Pos()).String(), s})
			}
		}
		return true
	})
	return out
}
