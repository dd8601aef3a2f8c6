package cli_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// End-to-end tests: the real binary, real node processes on loopback.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func lienthongBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lienthong-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "lienthong")
		out, err := exec.Command("go", "build", "-o", binPath, "./lienthong").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// freeAddr returns a free 127.0.0.1 port for a node to listen on. It picks
// below the kernel's ephemeral range (32768 and up on Linux), so that no
// outgoing connection of another test takes the port before the node
// binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for try := 0; try < 100; try++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(10000))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		l.Close()
		return addr
	}
	t.Fatal("no free port between 20000 and 30000")
	return ""
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary with args and returns its exit code and output.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return runInput(t, env, "", args...)
}

// runInput is run with input on the binary's standard input.
func runInput(t *testing.T, env []string, input string, args ...string) result {
	t.Helper()
	cmd := exec.Command(lienthongBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(input)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func mustRun(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := run(t, env, args...)
	if r.code != 0 {
		t.Fatalf("lienthong %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// startNode starts `lienthong start` and waits until the API answers.
func startNode(t *testing.T, dir, api string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(lienthongBinary(t), "start", "--dir", dir, "--log-level", "warn")
	var logs bytes.Buffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get("http://" + api + "/healthz"); err == nil {
			resp.Body.Close()
			return cmd
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("node did not answer on %s:\n%s", api, logs.String())
	return nil
}

func TestEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hcm")
	api := freeAddr(t)
	var init struct {
		Name, PeerID, APIURL, AdminToken, WriteToken, ReadToken string
	}
	out := mustRun(t, nil, "init", "--dir", dir, "--name", "hcm", "--api", api, "--json")
	if err := json.Unmarshal([]byte(out), &struct {
		Name       *string `json:"name"`
		PeerID     *string `json:"peer_id"`
		APIURL     *string `json:"api_url"`
		AdminToken *string `json:"admin_token"`
		WriteToken *string `json:"write_token"`
		ReadToken  *string `json:"read_token"`
	}{&init.Name, &init.PeerID, &init.APIURL, &init.AdminToken, &init.WriteToken, &init.ReadToken}); err != nil {
		t.Fatalf("init --json printed %q: %v", out, err)
	}
	if init.Name != "hcm" || !strings.HasPrefix(init.PeerID, "12D3KooW") || init.APIURL != "http://"+api ||
		!strings.HasPrefix(init.AdminToken, "lt_admin_") || init.WriteToken == "" || init.ReadToken == "" {
		t.Fatalf("init --json: %+v", init)
	}
	if r := run(t, nil, "init", "--dir", dir, "--name", "hcm"); r.code != 2 && r.code != 1 || !strings.Contains(r.stderr, "already holds a node") {
		t.Fatalf("init over an existing node: exit %d %s", r.code, r.stderr)
	}
	node := startNode(t, dir, api)

	admin := []string{"LIENTHONG_API=http://" + api, "LIENTHONG_TOKEN=" + init.AdminToken}
	writer := []string{"LIENTHONG_API=http://" + api, "LIENTHONG_TOKEN=" + init.WriteToken}
	mustRun(t, admin, "schema", "put", "../docs/examples/schemas/citizen.json")
	mustRun(t, nil, "dataset", "create", "--dir", dir, "--name", "population.identity", "--type", "citizen",
		"--fields", "full_name,birth_date,sex,birth_province,phones", "--owner", "hcm")
	if out := mustRun(t, admin, "schema", "list"); !strings.Contains(out, "citizen") {
		t.Fatalf("schema list: %s", out)
	}
	key := "079090000001"
	mustRun(t, writer, "put", "population.identity", key,
		`{"full_name":"Lê Văn Cường","birth_date":"1990-01-02","sex":"male","birth_province":"79","phones":["0912345678"]}`)
	mustRun(t, writer, "patch", "population.identity", key, `{"phones":{"add":["0987654321"]}}`)
	var ent struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	json.Unmarshal([]byte(mustRun(t, writer, "get", "citizen", key, "--json")), &ent)
	var phones bytes.Buffer
	json.Compact(&phones, ent.Fields["phones"])
	if phones.String() != `["0912345678","0987654321"]` || string(ent.Fields["full_name"]) != `"Lê Văn Cường"` {
		t.Fatalf("get after put and patch: %+v", ent.Fields)
	}

	// Exit codes: rejected by the node 3, usage 2, unreachable 4.
	if r := run(t, writer, "put", "population.identity", key, `{"full_name":"x","birth_date":"nope","sex":"male","birth_province":"79"}`); r.code != 3 ||
		!strings.Contains(r.stderr, "birth_date") {
		t.Fatalf("invalid put: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, writer, "put", "population.identity"); r.code != 2 {
		t.Fatalf("put with missing arguments: exit %d", r.code)
	}
	if r := run(t, []string{"LIENTHONG_API=http://" + freeAddr(t), "LIENTHONG_TOKEN=x"}, "status"); r.code != 4 || !strings.Contains(r.stderr, "is the node running") {
		t.Fatalf("unreachable node: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, []string{"LIENTHONG_API=http://" + api, "LIENTHONG_TOKEN=" + init.ReadToken}, "put", "population.identity", key, `{}`); r.code != 3 ||
		!strings.Contains(r.stderr, "write role") {
		t.Fatalf("read token writing: exit %d, stderr %q", r.code, r.stderr)
	}

	// Kill the node with SIGKILL: every acknowledged write survives a restart.
	for i := 2; i <= 20; i++ {
		mustRun(t, writer, "put", "population.identity", fmt.Sprintf("0790900000%02d", i),
			fmt.Sprintf(`{"full_name":"Người %d","birth_date":"1991-01-01","sex":"female","birth_province":"79"}`, i))
	}
	node.Process.Signal(syscall.SIGKILL)
	node.Wait()
	startNode(t, dir, api)
	var changes []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, admin, "changes", "--json")), "\n") {
		var c map[string]any
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("changes --json line %q: %v", line, err)
		}
		changes = append(changes, c)
	}
	if len(changes) != 21 || changes[20]["key"] != "079090000020" || changes[20]["origin"] != "hcm" {
		t.Fatalf("after SIGKILL and restart: %d changes, last %v", len(changes), changes[len(changes)-1])
	}
	mustRun(t, writer, "delete", "population.identity", key)
	if r := run(t, writer, "get", "citizen", key); r.code != 3 || !strings.Contains(r.stderr, "404") {
		t.Fatalf("get after delete: exit %d %s", r.code, r.stderr)
	}
	if out := mustRun(t, nil, "status", "--dir", dir); !strings.Contains(out, "population.identity") || !strings.Contains(out, "hcm:22") {
		t.Fatalf("status: %s", out)
	}
}

// TestDevJSON checks the scripting contract of `lienthong dev --json`: the
// first line is the node's JSON, and the node serves the sample dictionary.
func TestDevJSON(t *testing.T) {
	api := freeAddr(t)
	cmd := exec.Command(lienthongBinary(t), "dev", "--dir", filepath.Join(t.TempDir(), "dev"), "--api", api, "--json")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	var first struct {
		Name       string `json:"name"`
		PeerID     string `json:"peer_id"`
		APIURL     string `json:"api_url"`
		AdminToken string `json:"admin_token"`
		WriteToken string `json:"write_token"`
		ReadToken  string `json:"read_token"`
	}
	if err := json.NewDecoder(stdout).Decode(&first); err != nil {
		t.Fatal(err)
	}
	if first.APIURL != "http://"+api || first.AdminToken == "" || first.ReadToken == "" || first.PeerID == "" {
		t.Fatalf("dev --json: %+v", first)
	}
	out := mustRun(t, []string{"LIENTHONG_API=" + first.APIURL, "LIENTHONG_TOKEN=" + first.ReadToken}, "dataset", "list")
	for _, ds := range []string{"population.identity", "health.insurance", "land.79", "business.registration"} {
		if !strings.Contains(out, ds) {
			t.Fatalf("dev node lacks sample dataset %s:\n%s", ds, out)
		}
	}
}

// TestDemo runs `lienthong demo up` as make demo does: four real node
// processes, sample data imported at the owners, a change replicated.
func TestDemo(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "demo")
	// The demo's ports are fixed offsets from a base: pick one below the
	// ephemeral range (so no outgoing connection takes them) whose twelve
	// ports are free.
	base := 0
	for try := 0; try < 50 && base == 0; try++ {
		b := 20000 + rand.IntN(9000)
		free := true
		for _, off := range []int{0, 1, 2, 3, 100, 101, 102, 103, 200, 201, 202, 203} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", b+off))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			base = b
		}
	}
	t.Cleanup(func() { run(t, nil, "demo", "stop", "--dir", dir) })
	r := run(t, nil, "demo", "up", "--dir", dir, "--api-port", strconv.Itoa(base), "--count", "500")
	if r.code != 0 || !strings.Contains(r.stdout, "A local federation is running") {
		logs, _ := filepath.Glob(filepath.Join(dir, "*", "node.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, lastLines(string(b), 20))
		}
		t.Fatalf("demo up: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "watching it reach ndc") {
		t.Fatalf("demo up did not show replication: %s", r.stderr)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
