package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lienthong/lienthong/sim/gen"
)

// MemRun is one measurement of a node process's memory.
type MemRun struct {
	N int `json:"n"`
	// LoadPeakMiB is the greatest RSS while the entities were written;
	// IdleMiB the RSS 10 s after, with nothing to do.
	LoadPeakMiB float64 `json:"rss_under_load_peak_mib"`
	IdleMiB     float64 `json:"rss_idle_mib"`
	StoreMiB    float64 `json:"store_on_disk_mib"`
	LoadSeconds float64 `json:"load_seconds"`
}

// Print writes the run as bench memory's lines.
func (r *MemRun) Print(w io.Writer) error {
	fmt.Fprintf(w, "a node process (lienthong dev) holding %d citizens of population.identity:\n", r.N)
	fmt.Fprintf(w, "  RSS while they were written (peak): %.0f MiB (load took %.1f s)\n", r.LoadPeakMiB, r.LoadSeconds)
	fmt.Fprintf(w, "  RSS idle, 10 s later:               %.0f MiB\n", r.IdleMiB)
	fmt.Fprintf(w, "  store on disk:                      %.0f MiB (idle RSS / store: %.2f)\n", r.StoreMiB, r.IdleMiB/r.StoreMiB)
	return nil
}

// Memory starts `bin dev` (bin: the lienthong binary) as a child process
// on port 0, imports count citizens into it through its API with `bin
// import`, and reads the child's resident set size from /proc; its
// progress goes to progress.
func Memory(ctx context.Context, bin string, count int, progress io.Writer) (r *MemRun, err error) {
	r = &MemRun{N: count}
	tmp, err := os.MkdirTemp("", "lienthong-memory-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	file := filepath.Join(tmp, "citizens.jsonl")
	f, err := os.Create(file)
	if err != nil {
		return r, err
	}
	w := bufio.NewWriter(f)
	err = benchCitizens(count, func(_ int, rec gen.Record) error {
		_, err := w.Write(append(rec.AppendJSON(nil), '\n')) // the import format
		return err
	})
	if err := errors.Join(err, w.Flush(), f.Close()); err != nil {
		return r, err
	}
	dir := filepath.Join(tmp, "node")
	cmd := exec.CommandContext(ctx, bin, "dev", "--dir", dir, "--listen-api", "127.0.0.1:0", "--json")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	cmd.Stderr = progress
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	// The dev node's details, with the port it bound.
	var info struct {
		APIURL     string `json:"api_url"`
		AdminToken string `json:"admin_token"`
	}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err != nil || json.Unmarshal(line, &info) != nil || info.AdminToken == "" || info.APIURL == "" {
		return r, fmt.Errorf("bench memory: the dev node printed no details (%v): %q", err, line)
	}
	go io.Copy(io.Discard, out)
	pid := cmd.Process.Pid

	var mu sync.Mutex
	peak := 0.0
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if v, err := rssMiB(pid); err == nil {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	fmt.Fprintf(progress, "importing %d citizens into a dev node (pid %d)...\n", count, pid)
	start := time.Now()
	var errb strings.Builder
	imp := exec.CommandContext(ctx, bin, "import", "population.identity", file, "--drop-other-fields", "--api", info.APIURL, "--token", info.AdminToken)
	imp.Stderr = &errb
	ierr := imp.Run()
	r.LoadSeconds = time.Since(start).Seconds()
	close(stop)
	<-done
	if ierr != nil {
		return r, fmt.Errorf("bench memory: import failed (%v): %s", ierr, errb.String())
	}
	r.LoadPeakMiB = peak
	fmt.Fprintf(progress, "idle for 10 s...\n")
	select {
	case <-ctx.Done():
		return r, ctx.Err()
	case <-time.After(10 * time.Second):
	}
	if r.IdleMiB, err = rssMiB(pid); err != nil {
		return r, err
	}
	var size int64
	filepath.WalkDir(filepath.Join(dir, "data"), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				size += fi.Size()
			}
		}
		return nil
	})
	r.StoreMiB = float64(size) / (1 << 20)
	return r, nil
}

// rssMiB reads the resident set size of process pid.
func rssMiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("bench memory: no VmRSS for pid %d", pid)
}
