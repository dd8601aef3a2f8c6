package storage

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"

	"github.com/lienthong/lienthong/crdt"
)

var crashRounds = flag.Int("crash.rounds", 12, "SIGKILL rounds in TestKillDurability")

const crashEnv = "LIENTHONG_STORAGE_CRASH_CHILD"

// TestMain turns the test binary into the writer that TestKillDurability
// kills, when crashEnv names its directory.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	os.Exit(m.Run())
}

// crashChild writes from 16 goroutines until killed, printing "w seq" on
// stdout for every acknowledged write: odd writers write with Apply, which
// does not wait for the sync, and print what the durable heads cover.
func crashChild(dir string) {
	s, err := Open(Options{Dir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			origin := fmt.Sprint("o", w)
			write, printed := s.Update, uint64(0)
			if w%2 == 1 {
				write = s.Apply
			}
			for {
				var op *crdt.Op
				err := write(context.Background(), func(tx *Txn) (err error) {
					h, err := tx.Head("d", origin)
					if err != nil {
						return err
					}
					op, err = appendNext(tx, "d", origin, fmt.Sprintf("%s-%d", origin, h.Seq+1), fmt.Sprint(h.Seq+1))
					return err
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				acked := op.Seq
				if w%2 == 1 {
					acked = s.DurableHeads("d")[Stream{"d", origin}].Seq
				}
				if acked > printed {
					printed = acked
					mu.Lock()
					fmt.Fprintln(out, w, acked)
					out.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
}

// TestKillDurability kills a writing process with SIGKILL, again and again,
// and checks after each restart that the store opens cleanly, that every
// acknowledged write (for Apply, every write the durable heads covered) is
// there, and that every stream is whole: ops 1..head,
// hash-chained, each with its entity state and its change record.
func TestKillDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("kills real processes; run without -short")
	}
	dir := t.TempDir()
	acked := map[int]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < *crashRounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashEnv+"="+dir)
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		kill := 50 + rng.IntN(2000)
		sc := bufio.NewScanner(stdout)
		n := 0
		for sc.Scan() {
			var w int
			var seq uint64
			if _, err := fmt.Sscan(sc.Text(), &w, &seq); err != nil {
				t.Fatalf("child said %q: %v", sc.Text(), err)
			}
			acked[w] = max(acked[w], seq)
			if n++; n == kill {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		cmd.Wait()
		if n < kill {
			t.Fatalf("round %d: child exited after %d acknowledgements", round, n)
		}
		checkStore(t, dir, acked)
	}
}

func checkStore(t *testing.T, dir string, acked map[int]uint64) {
	t.Helper()
	s, err := Open(Options{Dir: dir})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	heads, err := s.Heads("d")
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	for w, seq := range acked {
		origin := fmt.Sprint("o", w)
		h := heads[Stream{"d", origin}]
		if h.Seq < seq {
			t.Fatalf("stream %s: head %d, but %d was acknowledged", origin, h.Seq, seq)
		}
		total += h.Seq
	}
	for st, h := range heads {
		var prev [32]byte
		for seq := uint64(1); seq <= h.Seq; seq++ {
			op, err := s.Op("d", st.Origin, seq)
			if err != nil {
				t.Fatalf("stream %s: op %d of %d: %v", st.Origin, seq, h.Seq, err)
			}
			if op.Prev != prev {
				t.Fatalf("stream %s: op %d does not chain to op %d", st.Origin, seq, seq-1)
			}
			prev = sha256Op(op)
			ents, err := s.Entity("t", op.Key)
			if err != nil || len(ents) != 1 || !ents[0].State.Exists() {
				t.Fatalf("stream %s: entity of op %d missing: %+v %v", st.Origin, seq, ents, err)
			}
		}
		if prev != h.Hash {
			t.Fatalf("stream %s: head hash does not match op %d", st.Origin, h.Seq)
		}
	}
	if s.Durable() != total {
		t.Fatalf("change feed has %d entries, streams hold %d ops", s.Durable(), total)
	}
}
