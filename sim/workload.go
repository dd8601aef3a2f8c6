package sim

import (
	"encoding/json"
	"errors"
	"fmt"
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
type workload struct {
	s       *Sim
	pools   map[string][]string // dataset -> the keys it writes
	gens    map[string]*gen.Generator
	winners map[entityKey]winner // the acknowledged write each entity's registers must show
	acked   map[storage.Stream]uint64
}

type entityKey struct{ dataset, key string }

// winner is an acknowledged write: its tag and the register values it set.
type winner struct {
	epoch  uint64
	time   crdt.Timestamp
	origin string
	values map[string][]byte // register field -> JSON value, nil when cleared
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
		winners: map[entityKey]winner{}, acked: map[storage.Stream]uint64{}}
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

// write puts one record, with a key from the dataset's pool, at n.
func (w *workload) write(n *node, d *dict.Dataset) string {
	r := w.gens[d.Name].Next()
	r.Fields = slices.DeleteFunc(r.Fields, func(f gen.Field) bool { return !d.Covers(f.Name) })
	var rec struct {
		Fields map[string]json.RawMessage `json:"fields"`
	}
	if err := json.Unmarshal(r.AppendJSON(nil), &rec); err != nil {
		panic(fmt.Sprintf("sim: generated record: %v", err)) // a generator bug
	}
	key := w.pools[d.Name][w.s.rng.IntN(len(w.pools[d.Name]))]
	res, err := n.eng.Write(w.s.ctx, data.Write{Dataset: d.Name, Key: key, Mode: data.Put, Fields: rec.Fields})
	if err != nil {
		w.s.stats.Refused++
		if errors.Is(err, data.ErrNotOwner) {
			return "not owner"
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
	win := winner{epoch: op.Epoch, time: op.Time, origin: op.Origin, values: map[string][]byte{}}
	for _, f := range op.Fields {
		if f.Kind == crdt.Register {
			win.values[f.Name] = f.Value
		}
	}
	k := entityKey{d.Name, key}
	if cur, ok := w.winners[k]; !ok || win.after(cur) {
		w.winners[k] = win
	}
	w.s.notifySoon(n)
	return fmt.Sprintf("%s@%d", key, res.Seq)
}
