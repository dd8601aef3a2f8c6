package engine

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDeps: the engine stays pure (in the style of tailscale's deptest).
// No package it depends on, however indirectly, reaches the network or the
// store; its own imports are pure packages of the standard library, so it
// reads no clock, starts no process and touches no file.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	const self = "github.com/lienthong/lienthong/node/replica/engine"
	banned := []string{"net", "github.com/libp2p", "github.com/cockroachdb/pebble", "github.com/hashicorp",
		"github.com/lienthong/lienthong/storage", "github.com/lienthong/lienthong/transport", "github.com/lienthong/lienthong/node"}
	for _, dep := range strings.Fields(string(out)) {
		for _, b := range banned {
			if dep != self && (dep == b || strings.HasPrefix(dep, b+"/")) {
				t.Errorf("the engine depends on %s (banned: %s)", dep, b)
			}
		}
	}
	allowed := map[string]bool{"cmp": true, "errors": true, "fmt": true, "iter": true, "maps": true, "slices": true,
		"sort": true, "strconv": true, "strings": true}
	for _, f := range sources(t) {
		for _, imp := range f.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); !allowed[p] {
				t.Errorf("the engine imports %s: only %v are allowed (no clock, file, process or network)",
					p, slices.Sorted(maps.Keys(allowed)))
			}
		}
	}
}

// TestNoGoroutines: no non-test source of the engine starts a goroutine,
// selects, sends or declares a channel.
func TestNoGoroutines(t *testing.T) {
	for _, f := range sources(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			switch n.(type) {
			case *ast.GoStmt, *ast.SelectStmt, *ast.ChanType, *ast.SendStmt:
				t.Errorf("%s: %T: the engine has no goroutines or channels", fset.Position(n.Pos()), n)
			}
			return true
		})
	}
}

var fset = token.NewFileSet()

// sources parses the engine's non-test files.
func sources(t *testing.T) []*ast.File {
	t.Helper()
	files, _ := filepath.Glob("*.go")
	var out []*ast.File
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	if len(out) == 0 {
		t.Fatal("no source files")
	}
	return out
}
