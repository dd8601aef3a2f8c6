package cli_test

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
)

// The partition test's own record of every write it sent, independent of
// the nodes' digests (`verify`): after the heal, checkModel compares each
// node's store, as its export shows it, against the record.

// outcome is what a write's client saw.
type outcome int

const (
	acked    outcome = iota // 200: the owner applied it
	rejected                // 4xx: the owner refused it (e.g. not_owner)
	unknown                 // no answer or 5xx: it may or may not have applied
)

// modelWrite is one PUT of the partition test: at an owner, of dataset's
// record key, whose one variable field got value. Writes of one dataset at
// one epoch come from one client, one at a time, so seq (global, taken
// before sending) orders them as the owner's clock does; a higher owner
// epoch wins over any time.
type modelWrite struct {
	dataset, key, value string
	epoch               int
	seq                 int64
	at                  string
	outcome             outcome
}

func (w modelWrite) after(o modelWrite) bool {
	return w.epoch > o.epoch || w.epoch == o.epoch && w.seq > o.seq
}

// model is the record of writes and of who may read each dataset.
type model struct {
	mu     sync.Mutex
	writes []modelWrite
	seq    int64
}

// next returns the seq of a write about to be sent.
func (m *model) next() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	return m.seq
}

func (m *model) record(w modelWrite) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes = append(m.writes, w)
}

// put sends w as a PUT of body to its owner w.at and records it with the
// outcome its client saw, which it returns.
func (m *model) put(c *fedCluster, w modelWrite, body any) modelWrite {
	w.outcome = unknown
	r, err := c.call(w.at, "PUT", "/v1/datasets/"+w.dataset+"/entities/"+w.key, body)
	switch {
	case err == nil && (r.status == http.StatusOK || r.status == http.StatusCreated):
		w.outcome = acked
	case err == nil && r.status >= 400 && r.status < 500:
		w.outcome = rejected
	}
	m.record(w)
	return w
}

// count returns how many writes had outcome o, of dataset (every dataset
// if empty) at epoch (any if 0).
func (m *model) count(o outcome, dataset string, epoch int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, w := range m.writes {
		if w.outcome == o && (dataset == "" || w.dataset == dataset) && (epoch == 0 || w.epoch == epoch) {
			n++
		}
	}
	return n
}

// figures are the checker's counts.
type figures struct {
	acked     int // acknowledged writes
	lost      int // (reader, record) pairs where the reader lacks the last acknowledged value (or a later unacknowledged one)
	divergent int // records on which the readers of their dataset disagree
	leaked    int // records of a dataset at a node that may not read it
	examples  []string
}

func (f figures) ok() bool { return f.lost == 0 && f.divergent == 0 && f.leaked == 0 }

func (f figures) String() string {
	return fmt.Sprintf("acked=%d lost=%d divergent=%d leaked=%d", f.acked, f.lost, f.divergent, f.leaked)
}

// check compares stores[node][dataset][key] = value (the variable field of
// the record in the node's export) with the record. readers[dataset] are
// the nodes that may read dataset (owner included) after the heal; every
// other node of stores must hold none of its records.
func (m *model) check(stores map[string]map[string]map[string]string, readers map[string][]string) figures {
	m.mu.Lock()
	defer m.mu.Unlock()
	var f figures
	example := func(format string, args ...any) {
		if len(f.examples) < 5 {
			f.examples = append(f.examples, fmt.Sprintf(format, args...))
		}
	}
	// last[dataset][key] is the winning acknowledged write; allowed adds the
	// values of later writes that may have applied unacknowledged.
	last := map[string]map[string]modelWrite{}
	for _, w := range m.writes {
		if w.outcome != acked {
			continue
		}
		f.acked++
		if last[w.dataset] == nil {
			last[w.dataset] = map[string]modelWrite{}
		}
		if l, ok := last[w.dataset][w.key]; !ok || w.after(l) {
			last[w.dataset][w.key] = w
		}
	}
	allowed := map[string]map[string]map[string]bool{}
	for ds, keys := range last {
		allowed[ds] = map[string]map[string]bool{}
		for k, l := range keys {
			allowed[ds][k] = map[string]bool{l.value: true}
		}
	}
	for _, w := range m.writes {
		if l, ok := last[w.dataset][w.key]; ok && w.outcome == unknown && w.after(l) {
			allowed[w.dataset][w.key][w.value] = true
		}
	}
	for _, ds := range slices.Sorted(maps.Keys(last)) {
		for _, k := range slices.Sorted(maps.Keys(last[ds])) {
			seen := map[string]bool{}
			for _, r := range readers[ds] {
				v, ok := stores[r][ds][k]
				seen[v] = true
				if !ok || !allowed[ds][k][v] {
					f.lost++
					example("lost: %s has %s/%s = %q (present %v), want %q (written at %s, epoch %d)", r, ds, k, v, ok, last[ds][k].value, last[ds][k].at, last[ds][k].epoch)
				}
			}
			if len(seen) > 1 {
				f.divergent++
				example("divergent: the readers %v of %s hold %v for %s", readers[ds], ds, slices.Sorted(maps.Keys(seen)), k)
			}
		}
	}
	for _, n := range slices.Sorted(maps.Keys(stores)) {
		for _, ds := range slices.Sorted(maps.Keys(stores[n])) {
			if slices.Contains(readers[ds], n) {
				continue
			}
			if l := len(stores[n][ds]); l > 0 {
				f.leaked += l
				example("leaked: %s may not read %s but holds %d of its records", n, ds, l)
			}
		}
	}
	return f
}
