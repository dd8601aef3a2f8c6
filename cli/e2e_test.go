package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

	"github.com/lienthong/lienthong/cli/internal/fed"
	"github.com/lienthong/lienthong/node"
)

// End-to-end tests: the real binary, real node processes on loopback.

// builds holds the binaries built by this test process, by version.
var builds struct {
	sync.Mutex
	path map[string]string
}

// lienthongBinary builds the binary once (its version is the default, dev)
// and returns its path.
func lienthongBinary(t *testing.T) string {
	t.Helper()
	return lienthongBuild(t, "")
}

// lienthongBuild builds the current tree once per version, with node.Version
// set to version by the linker as make build does ("" leaves the default),
// and returns the binary's path.
func lienthongBuild(t *testing.T, version string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if p, ok := builds.path[version]; ok {
		return p
	}
	dir, err := os.MkdirTemp("", "lienthong-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "lienthong")
	args := []string{"build", "-o", p}
	if version != "" {
		args = append(args, "-ldflags", "-X github.com/lienthong/lienthong/node.Version="+version)
	}
	if out, err := exec.Command("go", append(args, "./lienthong")...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if builds.path == nil {
		builds.path = map[string]string{}
	}
	builds.path[version] = p
	return p
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

// Nodes in these tests bind port 0 everywhere and say what they got in
// their addresses file; a restart reuses the ports of the first start (see
// fed.RunPinned), as a node with configured ports would.

// startNode starts `lienthong start` for the node in dir (prev: the
// addresses of its last start, zero for the first) and waits until it
// answers. kill stops it with SIGKILL and waits for it to exit.
func startNode(t *testing.T, dir string, prev node.Addresses) (kill func(), a node.Addresses) {
	t.Helper()
	var logs bytes.Buffer
	p, err := fed.RunPinned(context.Background(), lienthongBinary(t), dir, &logs, false, prev, "start", "--dir", dir, "--log-level", "warn")
	if err != nil {
		t.Fatalf("start %s: %v\n%s", dir, err, logs.String())
	}
	t.Cleanup(p.Kill)
	return p.Kill, p.Addrs
}

// refusedAddr returns a loopback host:port where nothing listens and
// nothing will while the test runs: a socket bound and not listening holds
// the port, and connections to it are refused.
func refusedAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

func TestEndToEnd(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hcm")
	var init struct {
		Name, PeerID, APIURL, AdminToken, WriteToken, ReadToken string
	}
	out := mustRun(t, nil, "init", "--dir", dir, "--name", "hcm", "--listen-api", "127.0.0.1:0", "--json")
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
	if init.Name != "hcm" || !strings.HasPrefix(init.PeerID, "12D3KooW") || init.APIURL != "http://127.0.0.1:0" ||
		!strings.HasPrefix(init.AdminToken, "lt_admin_") || init.WriteToken == "" || init.ReadToken == "" {
		t.Fatalf("init --json: %+v", init)
	}
	if r := run(t, nil, "init", "--dir", dir, "--name", "hcm"); r.code != 2 && r.code != 1 || !strings.Contains(r.stderr, "already holds a node") {
		t.Fatalf("init over an existing node: exit %d %s", r.code, r.stderr)
	}
	kill, addrs := startNode(t, dir, node.Addresses{})
	api := addrs.API

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
	if r := run(t, []string{"LIENTHONG_API=http://" + refusedAddr(t), "LIENTHONG_TOKEN=x"}, "status"); r.code != 4 || !strings.Contains(r.stderr, "is the node running") {
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
	kill()
	if _, addrs = startNode(t, dir, addrs); addrs.API != api {
		t.Logf("restarted on %s, not %s (its port was taken meanwhile)", addrs.API, api)
		admin[0], writer[0] = "LIENTHONG_API=http://"+addrs.API, "LIENTHONG_API=http://"+addrs.API
	}
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
	dir := filepath.Join(t.TempDir(), "dev")
	cmd := exec.Command(lienthongBinary(t), "dev", "--dir", dir, "--listen-api", "127.0.0.1:0", "--json")
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
	// The URL has the port the node bound, also written to its addresses file.
	if first.APIURL == "http://127.0.0.1:0" || !strings.HasPrefix(first.APIURL, "http://127.0.0.1:") ||
		first.AdminToken == "" || first.ReadToken == "" || first.PeerID == "" {
		t.Fatalf("dev --json: %+v", first)
	}
	var addrs node.Addresses
	for range 1000 { // written just after the JSON line, once the API serves
		var err error
		if addrs, err = node.ReadAddresses(dir); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if "http://"+addrs.API != first.APIURL || addrs.PID != cmd.Process.Pid || addrs.P2P != nil {
		t.Fatalf("dev --json says %s; its addresses file %+v", first.APIURL, addrs)
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
	t.Cleanup(func() { run(t, nil, "demo", "stop", "--dir", dir) })
	r := run(t, nil, "demo", "up", "--dir", dir, "--api-port", "0", "--count", "500")
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

// TestStartFailsOnTakenAddress: `start` on an address another process holds
// exits non-zero at once, naming the address, its setting and what to do,
// for each of the API, libp2p and gossip.
func TestStartFailsOnTakenAddress(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ndc")
	mustRun(t, nil, "init", "--dir", dir, "--name", "ndc", "--seed", "--listen-api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--gossip", "127.0.0.1:0")
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	free := node.Addresses{API: "127.0.0.1:0", P2P: []string{"/ip4/127.0.0.1/tcp/0"}, Gossip: "127.0.0.1:0"}
	for _, tc := range []struct {
		key  string
		conf func(a *node.Addresses)
	}{
		{"api.listen", func(a *node.Addresses) { a.API = addr }},
		{"p2p.listen", func(a *node.Addresses) { a.P2P = []string{"/ip4/127.0.0.1/tcp/" + port} }},
		{"gossip.listen", func(a *node.Addresses) { a.Gossip = addr }},
	} {
		t.Run(tc.key, func(t *testing.T) {
			a := free
			tc.conf(&a)
			if err := fed.Pin(dir, a); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, lienthongBinary(t), "start", "--dir", dir, "--bootstrap")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("start with %s on a taken port still ran after 30s:\n%s", tc.key, stderr.String())
			}
			msg := stderr.String()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(msg, tc.key+" ") || !strings.Contains(msg, port) ||
				!strings.Contains(msg, "address already in use") || !strings.Contains(msg, "stop that process, or set "+tc.key) {
				t.Fatalf("start with %s on a taken port: %v\n%s", tc.key, err, msg)
			}
			t.Logf("%s", strings.TrimSpace(msg))
		})
	}
}

// TestStartFailsOnHeldDirectory: `start` on a directory a running node holds
// exits non-zero at once, naming the directory and the holder's pid (it
// said "resource temporarily unavailable" from deep in the store).
func TestStartFailsOnHeldDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ndc")
	mustRun(t, nil, "init", "--dir", dir, "--name", "ndc", "--listen-api", "127.0.0.1:0")
	_, a := startNode(t, dir, node.Addresses{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, lienthongBinary(t), "start", "--dir", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("a second start on %s still ran after 30s:\n%s", dir, stderr.String())
	}
	msg := stderr.String()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(msg, dir+" is held by another process (pid "+strconv.Itoa(a.PID)) ||
		!strings.Contains(msg, "stop that node first") {
		t.Fatalf("a second start on %s: %v\n%s", dir, err, msg)
	}
	t.Logf("%s", strings.TrimSpace(msg))
}

// TestStartLogFormatJSON: `start --log-format json` logs one JSON object a
// line, Raft's lines included at their own level; an unknown format is a
// usage error.
func TestStartLogFormatJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ndc")
	mustRun(t, nil, "init", "--dir", dir, "--name", "ndc", "--seed", "--listen-api", "127.0.0.1:0", "--listen", "/ip4/127.0.0.1/tcp/0", "--gossip", "127.0.0.1:0")
	if r := run(t, nil, "start", "--dir", dir, "--log-format", "xml"); r.code != 2 || !strings.Contains(r.stderr, `--log-format "xml": want text or json`) {
		t.Fatalf("start --log-format xml: %d %s", r.code, r.stderr)
	}
	var logs bytes.Buffer // read once the process has exited
	p, err := fed.Run(context.Background(), lienthongBinary(t), dir, &logs, false, "start", "--dir", dir, "--bootstrap", "--fast-timers", "--log-format", "json")
	if err != nil {
		t.Fatalf("start: %v\n%s", err, logs.String())
	}
	p.Kill()
	var sawAPI, sawRaft bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("a log line is not JSON: %q: %v", line, err)
		}
		sawAPI = sawAPI || rec["msg"] == "api listening" && rec["level"] == "INFO"
		sawRaft = sawRaft || rec["component"] == "raft" && rec["level"] != "DEBUG"
	}
	if !sawAPI || !sawRaft {
		t.Fatalf("JSON logs lack the API's line (%v) or a Raft line above debug (%v):\n%s", sawAPI, sawRaft, logs.String())
	}
}

// TestChangesFollowResumes: `changes --follow` outlives a node killed and
// restarted under it: it reconnects and resumes after the last change it
// printed (Last-Event-ID), printing each change once, in order; --dataset
// names a dataset that must exist: a typo is an error, not silence.
func TestChangesFollowResumes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hcm")
	var init struct {
		AdminToken string `json:"admin_token"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "init", "--dir", dir, "--name", "hcm", "--listen-api", "127.0.0.1:0", "--json")), &init); err != nil {
		t.Fatal(err)
	}
	kill, addrs := startNode(t, dir, node.Addresses{})
	admin := []string{"LIENTHONG_API=http://" + addrs.API, "LIENTHONG_TOKEN=" + init.AdminToken}
	mustRun(t, admin, "schema", "put", "../docs/examples/schemas/citizen.json")
	mustRun(t, admin, "dataset", "create", "--name", "population.identity", "--type", "citizen", "--fields", "full_name,birth_date,sex,birth_province", "--owner", "hcm")
	if r := run(t, admin, "changes", "--dataset", "population.identiy"); r.code != 3 || !strings.Contains(r.stderr, `dataset "population.identiy" does not exist`) {
		t.Fatalf("changes --dataset with a typo: exit %d %s", r.code, r.stderr)
	}
	put := func(i int) {
		mustRun(t, admin, "put", "population.identity", fmt.Sprintf("0790900000%02d", i),
			fmt.Sprintf(`{"full_name":"Người %d","birth_date":"1991-01-01","sex":"female","birth_province":"79"}`, i))
	}

	cmd := exec.Command(lienthongBinary(t), "changes", "--follow", "--json", "--dataset", "population.identity")
	cmd.Env = append(os.Environ(), admin...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	var got []map[string]any
	next := func(n int) {
		t.Helper()
		for len(got) < n {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("changes --follow ended after %d changes: %s", len(got), stderr.String())
				}
				var c map[string]any
				if err := json.Unmarshal([]byte(line), &c); err != nil {
					t.Fatalf("changes --follow printed %q: %v", line, err)
				}
				got = append(got, c)
			case <-time.After(30 * time.Second):
				t.Fatalf("changes --follow printed %d changes in 30s, want %d; stderr: %s", len(got), n, stderr.String())
			}
		}
	}
	for i := 1; i <= 3; i++ {
		put(i)
	}
	next(3)
	kill()
	_, again := startNode(t, dir, addrs)
	if again.API != addrs.API {
		t.Fatalf("restarted on %s, not %s: the follower cannot find it", again.API, addrs.API)
	}
	for i := 4; i <= 6; i++ {
		put(i)
	}
	next(6)
	for i, c := range got {
		if want := fmt.Sprintf("0790900000%02d", i+1); c["key"] != want || i > 0 && c["cursor"].(float64) <= got[i-1]["cursor"].(float64) {
			t.Fatalf("change %d: %v; want key %s after cursor %v", i, c, want, got[max(i-1, 0)]["cursor"])
		}
	}
	select {
	case line := <-lines:
		t.Fatalf("a seventh change printed: %s", line)
	case <-time.After(200 * time.Millisecond):
	}
	if !strings.Contains(stderr.String(), "lost the feed after cursor") || !strings.Contains(stderr.String(), "reconnecting") {
		t.Fatalf("the follower did not say it reconnected: %s", stderr.String())
	}
}

// TestAPIOverTLS: a node made with init --tls serves HTTPS only; clients
// trust it through --dir (the node's own certificate) or --ca-cert, and say
// what to do when they do not; a renewed certificate is served without a
// restart.
func TestAPIOverTLS(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ndc")
	var init struct {
		APIURL     string `json:"api_url"`
		AdminToken string `json:"admin_token"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, nil, "init", "--dir", dir, "--name", "ndc", "--listen-api", "127.0.0.1:0", "--tls", "--json")), &init); err != nil {
		t.Fatal(err)
	}
	if init.APIURL != "https://127.0.0.1:0" {
		t.Fatalf("init --tls: api_url %q", init.APIURL)
	}
	_, a := startNode(t, dir, node.Addresses{})
	if a.APIURL != "https://"+a.API {
		t.Fatalf("addresses.json api_url %q for %s", a.APIURL, a.API)
	}
	if out := mustRun(t, nil, "status", "--dir", dir); !strings.Contains(out, "node ndc") {
		t.Fatalf("status --dir over https: %s", out)
	}
	if resp, err := http.Get("http://" + a.API + "/healthz"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP to the HTTPS API: %v %v; want 400", resp, err)
	}
	remote := []string{"LIENTHONG_API=" + a.APIURL, "LIENTHONG_TOKEN=" + init.AdminToken}
	if r := run(t, remote, "status"); r.code != 4 || !strings.Contains(r.stderr, "not trusted") || !strings.Contains(r.stderr, "--ca-cert") {
		t.Fatalf("status without the CA: exit %d %s", r.code, r.stderr)
	}
	mustRun(t, remote, "status", "--ca-cert", filepath.Join(dir, node.TLSCertFile))

	// Renew: a new pair in place; the node serves it within about a second.
	renewed := t.TempDir()
	if err := node.WriteSelfSignedCert(renewed, "ndc", []string{"127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{node.TLSKeyFile, node.TLSCertFile} {
		b, err := os.ReadFile(filepath.Join(renewed, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f)+".new", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, f)+".new", filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := run(t, remote, "status", "--ca-cert", filepath.Join(renewed, node.TLSCertFile))
		if r.code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate is not served after 10s: %s", r.stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTokenManagement: tokens made with token create work at once, survive
// a SIGKILL and restart, carry only their role, and stop working the moment
// they are revoked; the config's tokens are listed but revoked only by
// editing lienthong.yaml, which the error says.
func TestTokenManagement(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ndc")
	mustRun(t, nil, "init", "--dir", dir, "--name", "ndc", "--listen-api", "127.0.0.1:0")
	kill, a := startNode(t, dir, node.Addresses{})
	var made struct{ Name, Role, Token string }
	if err := json.Unmarshal([]byte(mustRun(t, nil, "token", "create", "--dir", dir, "--name", "prometheus", "--role", "metrics", "--json")), &made); err != nil {
		t.Fatal(err)
	}
	if made.Name != "prometheus" || made.Role != "metrics" || !strings.HasPrefix(made.Token, "lt_metrics_") {
		t.Fatalf("token create: %+v", made)
	}
	get := func(path, tok string) int {
		req, _ := http.NewRequest("GET", "http://"+a.API+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if m, s := get("/metrics", made.Token), get("/v1/status", made.Token); m != 200 || s != 403 {
		t.Fatalf("the new metrics token: /metrics %d, /v1/status %d; want 200, 403", m, s)
	}
	if r := run(t, nil, "token", "create", "--dir", dir, "--name", "prometheus", "--role", "read"); r.code != 3 || !strings.Contains(r.stderr, "exists") {
		t.Fatalf("a second token of the same name: exit %d %s", r.code, r.stderr)
	}
	kill()
	_, a = startNode(t, dir, a)
	if m := get("/metrics", made.Token); m != 200 {
		t.Fatalf("the token after SIGKILL and restart: /metrics %d", m)
	}
	list := mustRun(t, nil, "token", "list", "--dir", dir)
	for _, want := range []string{"prometheus  metrics  api", "config-0", "config-3"} {
		if !strings.Contains(list, want) {
			t.Fatalf("token list lacks %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, made.Token) {
		t.Fatalf("token list shows a token:\n%s", list)
	}
	mustRun(t, nil, "token", "revoke", "--dir", dir, "prometheus")
	if m := get("/metrics", made.Token); m != 401 {
		t.Fatalf("the revoked token: /metrics %d, want 401", m)
	}
	if r := run(t, nil, "token", "revoke", "--dir", dir, "prometheus"); r.code != 3 || !strings.Contains(r.stderr, "no token of that name") {
		t.Fatalf("revoke twice: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, nil, "token", "revoke", "--dir", dir, "config-0"); r.code != 3 || !strings.Contains(r.stderr, "lienthong.yaml") {
		t.Fatalf("revoke a config token: exit %d %s", r.code, r.stderr)
	}
}
