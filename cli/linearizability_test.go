package cli_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Linearizability of the metadata: concurrent grant, revoke and
// linearizable reads (?consistent=true) of one dataset's readers, through
// the seeds and the dataset's owner (member m1, which may choose its
// readers), while the leader is killed and restarted; the history is
// checked with porcupine against a set-of-readers register.

type linInput struct {
	Op     string // grant, revoke, read
	Reader string // for grant and revoke
}

type linOutput struct {
	Readers string // for read: sorted, comma-separated
	Unknown bool   // a write whose outcome is unknown (503, timeout, connection lost)
}

func readersState(rs []string) string {
	rs = slices.Clone(rs)
	slices.Sort(rs)
	return strings.Join(rs, ",")
}

var readersModel = porcupine.Model{
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		in, out, st := input.(linInput), output.(linOutput), state.(string)
		var rs []string
		if st != "" {
			rs = strings.Split(st, ",")
		}
		switch in.Op {
		case "grant":
			if !slices.Contains(rs, in.Reader) {
				rs = append(rs, in.Reader)
			}
			return true, readersState(rs)
		case "revoke":
			return true, readersState(slices.DeleteFunc(rs, func(r string) bool { return r == in.Reader }))
		default:
			return out.Readers == st, st
		}
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch {
		case in.Op == "read":
			return fmt.Sprintf("read() -> [%s]", out.Readers)
		case out.Unknown:
			return fmt.Sprintf("%s(%s) -> ?", in.Op, in.Reader)
		}
		return fmt.Sprintf("%s(%s)", in.Op, in.Reader)
	},
	DescribeState: func(state any) string { return "[" + state.(string) + "]" },
}

func TestLinearizability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five node processes")
	}
	seeds, members := []string{"s1", "s2", "s3"}, []string{"m1", "m2"}
	c := newFedCluster(t, seeds, members)
	c.waitHealthy(30*time.Second, seeds, members)
	c.mustCall("s1", "PUT", "/v1/schemas/citizen", schemaFile(t, "citizen"), http.StatusCreated)
	idx := metaIndexOf(t, c.mustCall("s1", "PUT", "/v1/datasets/lin.test",
		map[string]any{"name": "lin.test", "entity_type": "citizen", "fields": []string{"full_name"}, "owner": "m1"}, http.StatusCreated))
	c.waitConverged(10*time.Second, idx)

	const runFor = 10 * time.Second
	base := time.Now()
	now := func() int64 { return time.Since(base).Nanoseconds() } // monotonic
	stop := make(chan struct{})
	var (
		mu       sync.Mutex
		ops      []porcupine.Operation
		nextID   = 0
		dropped  int
		unknowns int
		perNode  = map[string]int{}
	)
	newClientID := func() int {
		mu.Lock()
		defer mu.Unlock()
		nextID++
		return nextID - 1
	}
	record := func(op porcupine.Operation, node string) {
		mu.Lock()
		ops = append(ops, op)
		perNode[node]++
		if o := op.Output.(linOutput); o.Unknown {
			unknowns++
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for i, via := range []string{"s1", "s2", "s3", "m1"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			hc := &http.Client{Timeout: 6 * time.Second} // beyond the 3 s proposal timeout of --fast-timers
			client := newClientID()
			for {
				select {
				case <-stop:
					return
				default:
				}
				var in linInput
				if rng.IntN(5) < 2 {
					in = linInput{Op: "read"}
				} else {
					in = linInput{Op: []string{"grant", "revoke"}[rng.IntN(2)], Reader: []string{"s1", "s2", "s3", "m2"}[rng.IntN(4)]}
				}
				call := now()
				var r apiResp
				var err error
				if in.Op == "read" {
					r, err = callAPI(hc, c.node(via), "GET", "/v1/datasets/lin.test?consistent=true", nil)
				} else {
					r, err = callAPI(hc, c.node(via), "POST", "/v1/datasets/lin.test/"+in.Op, map[string]string{"reader": in.Reader})
				}
				ret := now()
				refused := errors.Is(err, syscall.ECONNREFUSED) // never reached the node
				switch {
				case in.Op == "read" && err == nil && r.status == http.StatusOK:
					var d struct {
						Readers []string `json:"readers"`
					}
					if jerr := json.Unmarshal(r.body, &d); jerr != nil {
						t.Errorf("read through %s: %v: %s", via, jerr, r)
						continue
					}
					record(porcupine.Operation{ClientId: client, Input: in, Call: call, Output: linOutput{Readers: readersState(d.Readers)}, Return: ret, Metadata: via}, via)
				case in.Op == "read" || refused:
					// A failed read changes nothing; a refused connection sent nothing.
					mu.Lock()
					dropped++
					mu.Unlock()
					if refused {
						time.Sleep(100 * time.Millisecond)
					}
				case err == nil && r.status == http.StatusOK:
					record(porcupine.Operation{ClientId: client, Input: in, Call: call, Output: linOutput{}, Return: ret, Metadata: via}, via)
				case err == nil && r.status != http.StatusServiceUnavailable:
					t.Errorf("%s(%s) through %s: %s", in.Op, in.Reader, via, r)
				default:
					// 503, timeout or connection lost: it may take effect at any
					// time from now on, or never; the client moves on as a new one.
					record(porcupine.Operation{ClientId: client, Input: in, Call: call, Output: linOutput{Unknown: true}, Return: math.MaxInt64, Metadata: via}, via)
					client = newClientID()
				}
			}
		}()
	}

	// Chaos: kill the leader twice, restarting it after about 2 s.
	var chaosErr error
	var kills []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 2 {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Second):
			}
			l, err := c.leader()
			if err != nil {
				chaosErr = err
				return
			}
			at := time.Since(base)
			c.kill(l)
			time.Sleep(2 * time.Second)
			if err := c.startErr(l); err != nil {
				chaosErr = err
				return
			}
			kills = append(kills, fmt.Sprintf("%s at %s (back at %s)", l, at.Round(time.Millisecond), time.Since(base).Round(time.Millisecond)))
		}
	}()
	time.Sleep(runFor)
	close(stop)
	wg.Wait()
	if chaosErr != nil {
		t.Fatalf("chaos: %v", chaosErr)
	}

	reads := 0
	for _, op := range ops {
		if op.Input.(linInput).Op == "read" {
			reads++
		}
	}
	t.Logf("history: %d operations (%d reads, %d writes of unknown outcome) by node %v; %d failed reads or refused connections dropped; leader kills: %s",
		len(ops), reads, unknowns, perNode, dropped, strings.Join(kills, ", "))
	if len(ops) < 50 || reads < 10 || len(ops)-reads-unknowns < 10 {
		t.Fatalf("history too small to say anything: %d operations, %d reads, %d unknown", len(ops), reads, unknowns)
	}
	if len(kills) == 0 {
		t.Errorf("no leader was killed")
	}
	t0 := time.Now()
	res, info := porcupine.CheckOperationsVerbose(readersModel, ops, 30*time.Second)
	t.Logf("porcupine: %s in %s", res, time.Since(t0).Round(time.Millisecond))
	if res != porcupine.Ok {
		// Not t.TempDir: the file must outlive the test to be looked at.
		dir, _ := os.MkdirTemp("", "lienthong-linearizability-")
		path := filepath.Join(dir, "history.html")
		if err := porcupine.VisualizePath(readersModel, info, path); err != nil {
			t.Logf("visualization: %v", err)
		} else {
			t.Logf("visualization of the history: %s", path)
		}
		var lines []string
		for _, op := range ops {
			in, out := op.Input.(linInput), op.Output.(linOutput)
			b, _ := json.Marshal(map[string]any{"client": op.ClientId, "node": op.Metadata, "op": in.Op, "reader": in.Reader,
				"readers": out.Readers, "unknown": out.Unknown, "call": op.Call, "return": op.Return})
			lines = append(lines, string(b))
		}
		if err := os.WriteFile(filepath.Join(dir, "history.jsonl"), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err == nil {
			t.Logf("history as JSON lines: %s", filepath.Join(dir, "history.jsonl"))
		}
		t.Errorf("the history of grant, revoke and ?consistent=true reads is not linearizable: %s", res)
	}
}
