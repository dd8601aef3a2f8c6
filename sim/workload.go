package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/sim/gen"
	"github.com/lienthong/lienthong/storage"
)

// workload writes to every dataset at its rate, from every node whose own
// metadata says it owns the dataset (two of them while a transfer has not
// reached the old owner), and keeps the model the checks compare with.
//
// A write is a put of a generated record without some of its optional
// fields, or a patch of one optional register field. The model follows the
// documented semantics, not the code: a put sets every register field of
// the dataset (those it leaves out to null), a patch the fields it names,
// and each field shows the value of the greatest acknowledged write that set
// it.
type workload struct {
	s       *Sim
	pools   map[string][]string // dataset -> the keys it writes
	gens    map[string]*gen.Generator
	winners map[fieldKey]winner // the acknowledged write each register field must show
	acked   map[storage.Stream]uint64
}

type fieldKey struct{ dataset, key, field string }

// winner is an acknowledged write of one register field: its tag and the
// value it set (nil when cleared).
type winner struct {
	epoch  uint64
	time   crdt.Timestamp
	origin string
	value  []byte
}

// after reports whether w orders after v by (epoch, HLC, origin): the
// register rule, written again here so that the model does not share the
// code it checks.
func (w winner) after(v winner) bool {
	if w.epoch != v.epoch {
		return w.epoch > v.epoch
	}
	if w.time.WallMillis != v.time.WallMillis {
		return w.time.WallMillis > v.time.WallMillis
	}
	if w.time.Logical != v.time.Logical {
		return w.time.Logical > v.time.Logical
	}
	return w.origin > v.origin
}

func newWorkload(s *Sim) (*workload, error) {
	w := &workload{s: s, pools: map[string][]string{}, gens: map[string]*gen.Generator{},
		winners: map[fieldKey]winner{}, acked: map[storage.Stream]uint64{}}
	for i, spec := range s.topo.Datasets {
		d := spec.Dataset
		var g *gen.Generator
		var err error
		if d.KeyPrefix != "" {
			g, err = gen.NewWithProvinces(d.EntityType, s.opts.Seed+uint64(i), []string{strings.TrimSuffix(d.KeyPrefix, "-")})
		} else {
			g, err = gen.New(d.EntityType, s.opts.Seed+uint64(i))
		}
		if err != nil {
			return nil, fmt.Errorf("sim: workload of %s: %w", d.Name, err)
		}
		for range s.sc.Workload.Keys {
			w.pools[d.Name] = append(w.pools[d.Name], g.Next().Key)
		}
		w.gens[d.Name] = g
		w.schedule(spec, time.Duration(s.rng.Int64N(int64(spec.Every))))
	}
	return w, nil
}

// schedule writes to the dataset of spec after d, and again every
// spec.Every (±10%) while the workload runs.
func (w *workload) schedule(spec datasetSpec, d time.Duration) {
	s := w.s
	s.after(d, "write", nil, nil, func() string {
		if s.now >= s.sc.Duration.D() {
			return "workload over"
		}
		w.schedule(spec, time.Duration(float64(spec.Every)*(0.9+0.2*s.rng.Float64())))
		var out []string
		for _, n := range s.nodes {
			if d := n.meta.View().Dataset(spec.Dataset.Name); n.up && d != nil && d.Owner == n.spec.Name {
				out = append(out, n.spec.Name+":"+w.write(n, d))
			}
		}
		return strings.Join(out, " ")
	})
}

// write puts one record, or patches one field of it, with a key from the
// dataset's pool, at n.
func (w *workload) write(n *node, d *dict.Dataset) string {
	r := w.gens[d.Name].Next()
	var rec struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(r.AppendJSON(nil), &rec); err != nil {
		panic(fmt.Sprintf("sim: generated record: %v", err)) // a generator bug
	}
	typ := n.meta.View().Type(d.EntityType)
	var optional, registers []string // of the dataset's fields, sorted
	for _, f := range slices.Sorted(slices.Values(d.Fields)) {
		ft := typ.Fields[f].Type
		if ft == dict.Set || ft == dict.Counter {
			continue
		}
		registers = append(registers, f)
		if !typ.Fields[f].Required {
			optional = append(optional, f)
		}
	}
	fields := map[string]json.RawMessage{}
	mode, what := data.Put, "put"
	if len(optional) > 0 && w.s.rng.IntN(10) < 3 {
		f := optional[w.s.rng.IntN(len(optional))]
		v, ok := rec.Fields[f]
		if !ok {
			v = json.RawMessage("null")
		}
		fields[f] = v
		mode, what = data.Patch, "patch "+f
	} else {
		for _, f := range slices.Sorted(maps.Keys(rec.Fields)) { // sorted: the rng draws in a fixed order
			if d.Covers(f) && !(slices.Contains(optional, f) && w.s.rng.IntN(4) == 0) {
				fields[f] = rec.Fields[f]
			}
		}
	}
	key := w.pools[d.Name][w.s.rng.IntN(len(w.pools[d.Name]))]
	res, err := n.eng.Write(w.s.ctx, data.Write{Dataset: d.Name, Key: key, Mode: mode, Fields: fields})
	if err != nil {
		w.s.stats.Refused++
		switch {
		case errors.Is(err, data.ErrNotOwner):
			return "not owner"
		case errors.Is(err, data.ErrNotFound):
			return "no entity to patch"
		}
		return "refused"
	}
	w.s.stats.Writes++
	op, err := n.st.Op(d.Name, n.spec.Name, res.Seq)
	if err != nil {
		panic(fmt.Sprintf("sim: acknowledged op %s/%s/%d is not in its store: %v", d.Name, n.spec.Name, res.Seq, err))
	}
	st := storage.Stream{Dataset: d.Name, Origin: n.spec.Name}
	w.acked[st] = max(w.acked[st], res.Seq)
	set := slices.Collect(maps.Keys(fields))
	if mode == data.Put {
		set = registers
	}
	for _, f := range set {
		win := winner{epoch: op.Epoch, time: op.Time, origin: op.Origin}
		if v, ok := fields[f]; ok && string(v) != "null" {
			win.value = v
		}
		k := fieldKey{d.Name, key, f}
		if cur, ok := w.winners[k]; !ok || win.after(cur) {
			w.winners[k] = win
		}
	}
	w.s.notifySoon(n)
	return fmt.Sprintf("%s %s@%d", what, key, res.Seq)
}
