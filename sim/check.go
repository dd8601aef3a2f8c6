package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/replica"
	"github.com/lienthong/lienthong/storage"
)

// Invariant is the outcome of one check of a run.
type Invariant struct {
	Name   string   `json:"name"`
	OK     bool     `json:"ok"`
	Detail string   `json:"detail"`
	Errors []string `json:"errors,omitempty"` // at most maxErrors
}

const maxErrors = 20

// Names of the invariants, in the order they are reported.
const (
	InvConvergence = "convergence" // every authorised replica of every dataset has the same digest
	InvAcked       = "no_acked_write_lost"
	InvReaders     = "only_readers_store"
	InvOwners      = "only_owners_write"
	InvMetadata    = "metadata_linearizable"
)

// violation notes a broken invariant seen during the run.
func (s *Sim) violation(name, detail string) {
	s.midrun = append(s.midrun, name+": "+detail)
}

// checkAcked checks, after n restarts from a crash, that every write it
// acknowledged is still in its store.
func (s *Sim) checkAcked(n *node) {
	heads, err := n.st.Heads("")
	if err != nil {
		s.violation(InvAcked, fmt.Sprintf("%s: read heads: %v", n.spec.Name, err))
		return
	}
	for st, seq := range s.work.acked {
		if st.Origin == n.spec.Name && heads[st].Seq < seq {
			s.violation(InvAcked, fmt.Sprintf("%s restarted at %s with %s at seq %d; it had acknowledged %d",
				n.spec.Name, s.now, st.Dataset, heads[st].Seq, seq))
		}
	}
}

// authorised returns the nodes that may read d, in name order.
func (s *Sim) authorised(d *dict.Dataset) []*node {
	var out []*node
	for _, n := range s.nodes {
		if d.CanRead(n.spec.Name) {
			out = append(out, n)
		}
	}
	return out
}

// headsConverged reports whether every authorised replica that is up, of
// every dataset, holds the same heads.
func (s *Sim) headsConverged() bool {
	for _, d := range s.ctl.view.Datasets() {
		var ref map[storage.Stream]storage.Head
		for _, n := range s.authorised(d) {
			if !n.up {
				continue
			}
			h, err := n.st.Heads(d.Name)
			if err != nil {
				return false
			}
			if ref == nil {
				ref = h
				continue
			}
			if len(h) != len(ref) {
				return false
			}
			for st, x := range h {
				if ref[st].Seq != x.Seq {
					return false
				}
			}
		}
	}
	return true
}

// lag is how many ops the authorised replicas lack, summed, and the share
// of (dataset, replica) pairs that lack none.
func (s *Sim) lag() (int64, float64) {
	var behind int64
	pairs, current := 0, 0
	for _, d := range s.ctl.view.Datasets() {
		best := map[storage.Stream]uint64{}
		var heads []map[storage.Stream]storage.Head
		for _, n := range s.authorised(d) {
			if !n.up {
				continue
			}
			h, _ := n.st.Heads(d.Name)
			heads = append(heads, h)
			for st, x := range h {
				best[st] = max(best[st], x.Seq)
			}
		}
		for _, h := range heads {
			pairs++
			var b int64
			for st, seq := range best {
				b += int64(seq - h[st].Seq)
			}
			if b == 0 {
				current++
			}
			behind += b
		}
	}
	if pairs == 0 {
		return behind, 1
	}
	return behind, float64(current) / float64(pairs)
}

// check runs every invariant on the final state.
func (s *Sim) check() []Invariant {
	out := []Invariant{s.checkConvergence(), s.checkAckedFinal(), s.checkReaders(), s.checkOwners(), s.checkMetadata()}
	for _, v := range s.midrun {
		for i := range out {
			if len(v) > len(out[i].Name) && v[:len(out[i].Name)] == out[i].Name {
				out[i].OK = false
				out[i].Errors = appendCapped(out[i].Errors, v)
			}
		}
	}
	return out
}

func appendCapped(errs []string, e string) []string {
	if len(errs) < maxErrors {
		return append(errs, e)
	}
	return errs
}

func (s *Sim) checkConvergence() Invariant {
	inv := Invariant{Name: InvConvergence, OK: true}
	compared := 0
	for _, d := range s.ctl.view.Datasets() {
		var ref string
		var refNode string
		for _, n := range s.authorised(d) {
			dg, err := replica.DatasetDigest(n.st, d.EntityType, d.KeyPrefix, d.Name)
			if err != nil {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s: digest of %s: %v", n.spec.Name, d.Name, err))
				continue
			}
			got := fmt.Sprintf("%d entities, %s", dg.Entities, dg.Total[:16])
			if n.spec.Name == d.Owner {
				s.digests[d.Name] = got
			}
			compared++
			if ref == "" {
				ref, refNode = got, n.spec.Name
			} else if got != ref {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s: %s has %s, %s has %s", d.Name, refNode, ref, n.spec.Name, got))
			}
		}
	}
	inv.Detail = fmt.Sprintf("%d replicas of %d datasets compared by digest", compared, len(s.ctl.view.Datasets()))
	return inv
}

func (s *Sim) checkAckedFinal() Invariant {
	inv := Invariant{Name: InvAcked, OK: true}
	v := s.ctl.view
	checked := 0
	for _, st := range slices.SortedFunc(maps.Keys(s.work.acked), func(a, b storage.Stream) int {
		return cmp.Or(strings.Compare(a.Dataset, b.Dataset), strings.Compare(a.Origin, b.Origin))
	}) {
		d := v.Dataset(st.Dataset)
		for _, n := range s.authorised(d) {
			h, _ := n.st.Heads(st.Dataset)
			if got := h[st].Seq; got < s.work.acked[st] {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s holds %s/%s up to %d; %d were acknowledged", n.spec.Name, st.Dataset, st.Origin, got, s.work.acked[st]))
			}
		}
	}
	// Every register field shows the greatest acknowledged write that set
	// it, by the model's own ordering, at every authorised replica.
	for _, k := range slices.SortedFunc(maps.Keys(s.work.winners), func(a, b fieldKey) int {
		return cmp.Or(strings.Compare(a.dataset, b.dataset), strings.Compare(a.key, b.key), strings.Compare(a.field, b.field))
	}) {
		w := s.work.winners[k]
		d := v.Dataset(k.dataset)
		for _, n := range s.authorised(d) {
			ents, err := n.st.Entity(d.EntityType, k.key)
			var got []byte
			for _, e := range ents {
				if fs := e.State.Field(k.field); e.Dataset == d.Name && fs != nil {
					got = fs.Value
				}
			}
			checked++
			if err != nil || !bytes.Equal(got, w.value) {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s: %s %s.%s = %s, want %s (written by %s at epoch %d, %s)",
					n.spec.Name, d.Name, k.key, k.field, got, w.value, w.origin, w.epoch, w.time))
			}
		}
	}
	inv.Detail = fmt.Sprintf("%d streams at their acknowledged heads; %d register fields of entity replicas show their last acknowledged write", len(s.work.acked), checked)
	return inv
}

func (s *Sim) checkReaders() Invariant {
	inv := Invariant{Name: InvReaders, OK: true}
	checked := 0
	for _, n := range s.nodes {
		for _, d := range s.ctl.view.Datasets() {
			if d.CanRead(n.spec.Name) {
				continue
			}
			checked++
			if c := countStates(n.st, d); c > 0 {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s may not read %s but stores %d of its entities", n.spec.Name, d.Name, c))
			}
			if h, _ := n.st.Heads(d.Name); len(h) > 0 {
				inv.OK = false
				inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s may not read %s but holds its streams", n.spec.Name, d.Name))
			}
		}
	}
	inv.Detail = fmt.Sprintf("%d (node, dataset) pairs without read right checked in the stores", checked)
	return inv
}

func countStates(st *storage.Store, d *dict.Dataset) int {
	n, after := 0, ""
	for {
		page, err := st.Entities(d.EntityType, d.KeyPrefix, after, 1000)
		if err != nil || len(page) == 0 {
			return n
		}
		for _, e := range page {
			after = e.Key
			for _, x := range e.States {
				if x.Dataset == d.Name {
					n++
				}
			}
		}
	}
}

// checkOwners checks every tag in every stored state: its origin owned the
// dataset at its epoch.
func (s *Sim) checkOwners() Invariant {
	inv := Invariant{Name: InvOwners, OK: true}
	tags := 0
	for _, n := range s.nodes {
		for _, d := range s.ctl.view.Datasets() {
			after := ""
			for {
				page, err := n.st.Entities(d.EntityType, d.KeyPrefix, after, 1000)
				if err != nil || len(page) == 0 {
					break
				}
				for _, e := range page {
					after = e.Key
					for _, x := range e.States {
						if x.Dataset != d.Name {
							continue
						}
						check := func(t crdt.Tag) {
							if t.IsZero() {
								return
							}
							tags++
							if owner, ok := d.OwnerAt(t.Epoch); !ok || owner != t.Origin {
								inv.OK = false
								inv.Errors = appendCapped(inv.Errors, fmt.Sprintf("%s: %s %s holds a write by %s at epoch %d, owned then by %q",
									n.spec.Name, d.Name, e.Key, t.Origin, t.Epoch, owner))
							}
						}
						check(x.State.Written)
						check(x.State.Deleted)
						check(x.State.Cleared)
						for _, f := range x.State.Fields {
							check(f.Tag)
						}
					}
				}
			}
		}
	}
	inv.Detail = fmt.Sprintf("%d write tags in stored states checked against the owner at their epoch", tags)
	return inv
}

func (s *Sim) checkMetadata() Invariant {
	inv := Invariant{Name: InvMetadata, OK: true}
	if res := porcupine.CheckOperations(metaModel, s.ctl.history); !res {
		inv.OK = false
		inv.Errors = append(inv.Errors, "the history of dataset metadata (writes and consistent reads) is not linearizable")
	}
	for _, v := range s.ctl.violations {
		inv.OK = false
		inv.Errors = appendCapped(inv.Errors, v)
	}
	inv.Detail = fmt.Sprintf("%d operations linearizable (porcupine); %d metadata writes attempted without a reachable majority, %d refused",
		len(s.ctl.history), s.ctl.minority, s.ctl.minorityRefused)
	if s.ctl.minority != s.ctl.minorityRefused {
		inv.OK = false
	}
	return inv
}
