package cli

import (
	"bufio"
	"bytes"
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// behaviour names, for each command of the tree, the function of a test
// (or of the helper a test calls) that runs it for real: TestCommandsCovered
// checks that the function exists and that its body passes the command's
// words as string literals, as an invocation does.
var behaviour = map[string]string{
	"backup create":         "TestBackupRestoreOwner",
	"backup restore":        "TestBackupRestoreOwner",
	"backup verify":         "TestBackupRestoreOwner",
	"bench heal":            "TestBenchHeal",
	"bench join":            "TestBenchJoin",
	"bench memory":          "TestBenchMemory",
	"bench peers":           "TestBenchPeers", // skips without postgres and nats-server
	"bench replicate":       "TestBenchReplicate",
	"bench write":           "TestBenchWrite",
	"changes":               "TestEndToEnd",
	"completion bash":       "TestCompletion",
	"completion fish":       "TestCompletion",
	"completion powershell": "TestCompletion",
	"completion zsh":        "TestCompletion",
	"dataset create":        "TestEndToEnd",
	"dataset get":           "TestAdminCommands",
	"dataset grant":         "TestAdminCommands",
	"dataset list":          "TestEndToEnd",
	"dataset revoke":        "TestAdminCommands",
	"dataset transfer":      "TestAdminCommands",
	"delete":                "TestEndToEnd",
	"demo stop":             "TestDemo",
	"demo up":               "TestDemo",
	"dev":                   "TestDevJSON",
	"export":                "exported",
	"gen":                   "TestGen",
	"get":                   "TestEndToEnd",
	"help":                  "TestDocumentedCommands",
	"import":                "TestImportExportRoundTrip",
	"init":                  "TestEndToEnd",
	"member add":            "TestAdminCommands",
	"member list":           "TestAdminCommands",
	"member remove":         "TestAdminCommands",
	"meta gossip-key":       "TestAdminCommands",
	"meta snapshot restore": "TestAdminCommands",
	"meta snapshot save":    "TestAdminCommands",
	"meta status":           "TestAdminCommands",
	"patch":                 "TestEndToEnd",
	"put":                   "TestEndToEnd",
	"schema get":            "TestAdminCommands",
	"schema list":           "TestEndToEnd",
	"schema put":            "TestEndToEnd",
	"sim run":               "TestSimCommands",
	"sim swarm":             "TestSimCommands",
	"start":                 "startNode",
	"status":                "TestEndToEnd",
	"token create":          "TestTokenManagement",
	"token list":            "TestTokenManagement",
	"token revoke":          "TestTokenManagement",
	"verify":                "TestBackupRestoreOwner",
	"version":               "TestVersion",
}

// helpOnly are the commands whose only test is their --help here, and why.
var helpOnly = map[string]string{
	"bench all": "runs every benchmark at full size for minutes; each one it runs has its own test above",
}

// commandTree returns every command path of the CLI ("meta snapshot
// save"), groups included, and which are leaves.
func commandTree() (paths []string, leaf map[string]bool) {
	var ran *command
	root := newRoot(context.Background(), &IO{}, &ran)
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	leaf = map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.Hidden {
				continue
			}
			p := strings.TrimPrefix(sub.CommandPath(), "lienthong ")
			paths = append(paths, p)
			leaf[p] = !sub.HasSubCommands()
			walk(sub)
		}
	}
	walk(root)
	sort.Strings(paths)
	return paths, leaf
}

// docCommand finds lienthong at a shell command's position in a code block
// line: its start (after a $ prompt, ./ or a bin/ directory), or after &&,
// ;, | or $(.
var docCommand = regexp.MustCompile(`(?:^\s*(?:\$\s+)?|&&\s*|;\s*|\|\s*|\$\()(?:\./|[\w./$()-]*bin/)?lienthong((?:\s+[a-z][a-z0-9-]*)+)`)

// documentedCommands returns the command lines of the code blocks of
// README.md and docs/*.md, by file:line.
func documentedCommands(t *testing.T) map[string][]string {
	t.Helper()
	files, _ := filepath.Glob("../docs/*.md")
	files = append([]string{"../README.md"}, files...)
	found := map[string][]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		in := false
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := sc.Text()
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				in = !in
				continue
			}
			if !in {
				continue
			}
			for _, m := range docCommand.FindAllStringSubmatch(line, -1) {
				found[filepath.Base(f)+":"+strconv.Itoa(n)] = append(found[filepath.Base(f)+":"+strconv.Itoa(n)], strings.Join(strings.Fields(m[1]), " "))
			}
		}
	}
	return found
}

// commandOf is the longest command path that words start with.
func commandOf(words string, paths []string) string {
	best := ""
	for _, p := range paths {
		if (words == p || strings.HasPrefix(words, p+" ")) && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// TestDocumentedCommands: every command the docs' code blocks run exists,
// and every command of the tree, documented or not, answers --help and
// help CMD with exit 0 and a usage naming it.
func TestDocumentedCommands(t *testing.T) {
	paths, _ := commandTree()
	docs := documentedCommands(t)
	if len(docs) < 20 {
		t.Fatalf("found %d command lines in the docs; the extraction is broken", len(docs))
	}
	documented := map[string]bool{}
	for at, lines := range docs {
		for _, words := range lines {
			p := commandOf(words, paths)
			if p == "" {
				t.Errorf("%s: lienthong %s: no such command", at, words)
				continue
			}
			documented[p] = true
		}
	}
	for _, must := range []string{"meta snapshot save", "meta snapshot restore", "init", "start"} {
		if !documented[must] {
			t.Errorf("the docs no longer show lienthong %s (or the extraction missed it)", must)
		}
	}
	for _, p := range paths {
		for _, args := range [][]string{append(strings.Fields(p), "--help"), append([]string{"help"}, strings.Fields(p)...)} {
			var out, errb bytes.Buffer
			code := Main(context.Background(), args, &IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != ExitOK || !strings.Contains(out.String(), "lienthong "+p) || strings.Contains(errb.String(), "help requested") {
				t.Errorf("lienthong %s: exit %d; want 0 and a usage naming lienthong %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, p, out.String(), errb.String())
			}
		}
	}
}

// TestCommandsCovered: every command of the tree has a behaviour test (or
// is listed in helpOnly with a reason), and each listed test exists and
// invokes the command.
func TestCommandsCovered(t *testing.T) {
	paths, leaf := commandTree()
	bodies := testFuncBodies(t)
	for _, p := range paths {
		if !leaf[p] {
			continue // a group: its help is run by TestDocumentedCommands
		}
		fn, ok := behaviour[p]
		if _, help := helpOnly[p]; help {
			if ok {
				t.Errorf("%s is both in behaviour and helpOnly", p)
			}
			continue
		}
		if !ok {
			t.Errorf("lienthong %s: no test runs it; add one and list it in behaviour", p)
			continue
		}
		body, ok := bodies[fn]
		if !ok {
			t.Errorf("lienthong %s: behaviour names %s, which no cli test file declares", p, fn)
			continue
		}
		for _, w := range strings.Fields(p) {
			if !strings.Contains(body, strconv.Quote(w)) {
				t.Errorf("lienthong %s: %s does not pass %q", p, fn, w)
			}
		}
	}
	for p := range behaviour {
		if !slices.Contains(paths, p) {
			t.Errorf("behaviour lists %q, not a command", p)
		}
	}
	for p := range helpOnly {
		if !slices.Contains(paths, p) {
			t.Errorf("helpOnly lists %q, not a command", p)
		}
	}
}

// testFuncBodies maps each function (and method) declared in this
// directory's test files to its source.
func testFuncBodies(t *testing.T) map[string]string {
	t.Helper()
	files, _ := filepath.Glob("*_test.go")
	fset := token.NewFileSet()
	bodies := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				bodies[fd.Name.Name] += string(src[fset.Position(fd.Body.Pos()).Offset:fset.Position(fd.Body.End()).Offset])
			}
		}
	}
	return bodies
}

// TestVersion: lienthong version prints the build's and Go's versions.
func TestVersion(t *testing.T) {
	code, out, _ := runImportCLI(t, nil, "version")
	if code != ExitOK || !strings.HasPrefix(out, "lienthong dev (go") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	code, out, _ = runImportCLI(t, nil, "version", "--json")
	if code != ExitOK || !strings.Contains(out, `"version": "dev"`) || !strings.Contains(out, `"go": "go`) {
		t.Errorf("version --json: exit %d, %q", code, out)
	}
	if code, _, _ = runImportCLI(t, nil, "version", "extra"); code != ExitUsage {
		t.Errorf("version extra: exit %d, want %d", code, ExitUsage)
	}
}

// TestCompletion: the completion scripts, and the completions they ask
// the binary for: command words, and a command's own flags.
func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		code, out, stderr := runImportCLI(t, nil, "completion", shell)
		if code != ExitOK || !strings.Contains(out, "lienthong") || len(out) < 1000 {
			t.Errorf("completion %s: exit %d, %d bytes; %s", shell, code, len(out), stderr)
		}
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"me"}, []string{"member", "meta"}},
		{[]string{"meta", "sn"}, []string{"snapshot"}},
		{[]string{"meta", "snapshot", ""}, []string{"restore", "save"}},
		{[]string{"get", "citizen", "--p"}, []string{"--provenance"}},
		{[]string{"init", "--listen-"}, []string{"--listen-api"}},
	} {
		_, out, _ := runImportCLI(t, nil, append([]string{cobra.ShellCompRequestCmd}, tc.args...)...)
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("completing %q: %q, want %s among them", tc.args, got, w)
			}
		}
	}
}

// TestHelpAndGroups: -h prints the usage once and exits 0; a group alone
// lists its commands and exits 0, with an unknown word it exits 2.
func TestHelpAndGroups(t *testing.T) {
	code, out, stderr := runImportCLI(t, nil, "get", "-h")
	if code != ExitOK || strings.Count(out, "usage: lienthong get") != 1 || stderr != "" {
		t.Errorf("get -h: exit %d\nstdout %q\nstderr %q", code, out, stderr)
	}
	code, help, _ := runImportCLI(t, nil, "help", "get")
	if code != ExitOK || help != out {
		t.Errorf("help get: exit %d, %q; want get -h's usage", code, help)
	}
	code, out, _ = runImportCLI(t, nil, "dataset")
	if code != ExitOK || !strings.Contains(out, "transfer") || !strings.Contains(out, "create") {
		t.Errorf("dataset: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"dataset", "frob"}, {"frob"}, {"meta", "snapshot", "take"}, {"dataset", "--bogus"}} {
		if code, _, stderr := runImportCLI(t, nil, args...); code != ExitUsage || !strings.Contains(stderr, "lienthong") {
			t.Errorf("%q: exit %d (%s), want %d", args, code, stderr, ExitUsage)
		}
	}
	code, _, stderr = runImportCLI(t, nil, "get", "--bogus", "a", "b")
	if code != ExitUsage || !strings.Contains(stderr, "bogus") {
		t.Errorf("get --bogus: exit %d, %q", code, stderr)
	}
}

// TestSimCommands runs a built-in scenario on one seed and a one-seed swarm.
func TestSimCommands(t *testing.T) {
	code, out, stderr := runImportCLI(t, nil, "sim", "run", "quick", "--seed", "1")
	if code != ExitOK || !strings.Contains(out, "replay: lienthong sim run quick --seed 1") {
		t.Errorf("sim run quick --seed 1: exit %d\n%s%s", code, out, stderr)
	}
	code, out, stderr = runImportCLI(t, nil, "sim", "swarm", "--seeds", "1")
	if code != ExitOK || !strings.Contains(out, "all 1 seeds passed") {
		t.Errorf("sim swarm --seeds 1: exit %d\n%s%s", code, out, stderr)
	}
}

// TestBenchJoin runs the benchmark on a few hundred entities.
func TestBenchJoin(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nodes")
	}
	code, out, stderr := runImportCLI(t, nil, "bench", "join", "--count", "200")
	if code != ExitOK || !strings.Contains(out, "entities/s") {
		t.Errorf("bench join --count 200: exit %d\n%s%s", code, out, stderr)
	}
}
