package data

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/storage"
)

// Entity is the merged view of one entity across the datasets this node holds.
type Entity struct {
	Type       string                     `json:"type"`
	Key        string                     `json:"key"`
	Fields     map[string]json.RawMessage `json:"fields"`
	Datasets   []string                   `json:"datasets"`
	Provenance map[string]Provenance      `json:"provenance,omitempty"`
	// ETag identifies this version of the entity at this node (see etag);
	// Get sets it, List does not.
	ETag string `json:"-"`
}

// Provenance says where a field's value came from.
type Provenance struct {
	Dataset string `json:"dataset"`
	Origin  string `json:"origin,omitempty"`
	Epoch   uint64 `json:"epoch,omitempty"`
	Time    string `json:"time,omitempty"` // RFC 3339 with milliseconds
	HLC     string `json:"hlc,omitempty"`  // wall milliseconds . logical
}

// Get returns the merged entity (typ, key) with its ETag, or ErrNotFound
// when no dataset holds it.
func (e *Engine) Get(typ, key string, provenance bool) (*Entity, error) {
	states, err := e.cfg.Store.Entity(typ, key)
	if err != nil {
		return nil, err
	}
	ent := merge(typ, key, states, provenance)
	if ent == nil {
		return nil, fmt.Errorf("%w: no %s with key %q", ErrNotFound, typ, key)
	}
	ent.ETag, _ = etag(states, nil)
	return ent, nil
}

// List returns up to limit merged entities of typ after key after, and the
// key to continue from ("" at the end).
func (e *Engine) List(typ, after string, limit int) ([]*Entity, string, error) {
	var out []*Entity
	for {
		page, err := e.cfg.Store.Entities(typ, "", after, limit-len(out))
		if err != nil {
			return nil, "", err
		}
		for _, p := range page {
			if ent := merge(typ, p.Key, p.States, false); ent != nil {
				out = append(out, ent)
			}
			after = p.Key
		}
		if len(page) == 0 {
			return out, "", nil
		}
		if len(out) == limit {
			return out, after, nil
		}
	}
}

func merge(typ, key string, states []storage.DatasetState, provenance bool) *Entity {
	ent := &Entity{Type: typ, Key: key, Fields: map[string]json.RawMessage{}}
	if provenance {
		ent.Provenance = map[string]Provenance{}
	}
	for _, ds := range states {
		st := ds.State
		if !st.Exists() {
			continue
		}
		ent.Datasets = append(ent.Datasets, ds.Dataset)
		for i := range st.Fields {
			f := &st.Fields[i]
			v, tag, ok := render(f)
			if !ok {
				continue
			}
			ent.Fields[f.Name] = v
			if provenance {
				p := Provenance{Dataset: ds.Dataset}
				if !tag.IsZero() {
					p.Origin, p.Epoch = tag.Origin, tag.Epoch
					p.Time, p.HLC = formatTime(tag.Time), formatHLC(tag.Time)
				}
				ent.Provenance[f.Name] = p
			}
		}
	}
	if len(ent.Datasets) == 0 {
		return nil
	}
	return ent
}

// render returns a field's visible JSON value and the tag of its latest
// visible write (zero for counters, which have one per origin).
func render(f *crdt.FieldState) (json.RawMessage, crdt.Tag, bool) {
	switch f.Kind {
	case crdt.Register:
		return f.Value, f.Tag, f.Value != nil
	case crdt.Set:
		m := f.Members()
		if len(m) == 0 {
			return nil, crdt.Tag{}, false
		}
		var last crdt.Tag
		for _, v := range m {
			for _, d := range f.Dots(v) {
				if d.Compare(last) > 0 {
					last = d
				}
			}
		}
		b, _ := json.Marshal(m)
		return b, last, true
	case crdt.Counter:
		if !counterWritten(f) {
			return nil, crdt.Tag{}, false
		}
		return strconv.AppendInt(nil, f.Total(), 10), crdt.Tag{}, true
	}
	return nil, crdt.Tag{}, false
}

// counterWritten reports whether some origin incremented the counter since
// the latest delete that observed it: a counter whose totals all equal the
// bases of a delete is absent, like the registers and sets the delete hid,
// rather than a revived 0.
func counterWritten(f *crdt.FieldState) bool {
	for _, c := range f.Counts {
		var base crdt.Count
		for _, b := range f.Bases {
			if b.Origin == c.Origin {
				base = b
				break
			}
		}
		if c.P > base.P || c.N > base.N {
			return true
		}
	}
	return false
}

func formatTime(t crdt.Timestamp) string {
	return time.UnixMilli(t.WallMillis).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

func formatHLC(t crdt.Timestamp) string { return t.String() }

// ChangeView is one change of the feed as applications see it.
type ChangeView struct {
	Cursor  uint64 `json:"cursor"`
	Dataset string `json:"dataset"`
	Type    string `json:"type"`
	Key     string `json:"key"`
	Origin  string `json:"origin"`
	Seq     uint64 `json:"seq"`
	// Op is "put" (the entity is replaced: Fields are its registers and
	// sets now, any other is cleared; counters show the origin's total),
	// "write" (a patch: Fields are what it changed) or "delete"; "snapshot" for a state a dataset snapshot
	// brought (Fields are the entity's now, Seq 0); "truncated" for an op
	// no longer held (no Fields).
	Op     string                     `json:"op"`
	Time   string                     `json:"time"`
	Fields map[string]json.RawMessage `json:"fields,omitempty"`
}

// Changes returns up to limit durable changes after cursor since.
func (e *Engine) Changes(since uint64, limit int) ([]ChangeView, error) {
	cs, err := e.cfg.Store.Changes(since, limit)
	if err != nil {
		return nil, err
	}
	out := make([]ChangeView, 0, len(cs))
	for _, c := range cs {
		if c.OpSeq == 0 {
			cv, err := e.snapshotChange(c)
			if err != nil {
				return nil, err
			}
			out = append(out, cv)
			continue
		}
		op, err := e.cfg.Store.Op(c.Dataset, c.Origin, c.OpSeq)
		if errors.Is(err, storage.ErrNotFound) {
			// The op was truncated since: the change is old news.
			out = append(out, ChangeView{Cursor: c.Seq, Dataset: c.Dataset, Type: c.Type, Key: c.Key, Origin: c.Origin,
				Seq: c.OpSeq, Op: "truncated"})
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("change %d: op %s/%s/%d: %w", c.Seq, c.Dataset, c.Origin, c.OpSeq, err)
		}
		out = append(out, changeView(c.Seq, op))
	}
	return out, nil
}

// snapshotChange is a change that a dataset snapshot brought: the entity's
// fields in the dataset as they are now.
func (e *Engine) snapshotChange(c storage.Change) (ChangeView, error) {
	cv := ChangeView{Cursor: c.Seq, Dataset: c.Dataset, Type: c.Type, Key: c.Key, Origin: c.Origin, Op: "snapshot",
		Fields: map[string]json.RawMessage{}}
	states, err := e.cfg.Store.Entity(c.Type, c.Key)
	if err != nil {
		return cv, fmt.Errorf("change %d: %w", c.Seq, err)
	}
	for _, st := range states {
		if st.Dataset != c.Dataset {
			continue
		}
		if !st.State.Exists() {
			cv.Op = "delete"
		}
		for i := range st.State.Fields {
			if v, _, ok := render(&st.State.Fields[i]); ok {
				cv.Fields[st.State.Fields[i].Name] = v
			}
		}
	}
	return cv, nil
}

// WaitChanges blocks until a change after since is durable or ctx ends.
func (e *Engine) WaitChanges(ctx context.Context, since uint64) error {
	return e.cfg.Store.WaitDurable(ctx, since)
}

func changeView(cursor uint64, op *crdt.Op) ChangeView {
	cv := ChangeView{Cursor: cursor, Dataset: op.Dataset, Type: op.Type, Key: op.Key, Origin: op.Origin,
		Seq: op.Seq, Op: "write", Time: formatTime(op.Time)}
	switch {
	case op.Delete:
		cv.Op = "delete"
		return cv
	case op.Replace:
		cv.Op = "put"
	}
	cv.Fields = make(map[string]json.RawMessage, len(op.Fields))
	for _, f := range op.Fields {
		switch f.Kind {
		case crdt.Register:
			if f.Value == nil {
				cv.Fields[f.Name] = json.RawMessage("null")
			} else {
				cv.Fields[f.Name] = f.Value
			}
		case crdt.Set:
			rm := make([]string, 0, len(f.Remove))
			for _, e := range f.Remove {
				rm = append(rm, e.Value)
			}
			b, _ := json.Marshal(map[string][]string{"add": nonNil(f.Add), "remove": rm})
			cv.Fields[f.Name] = b
		case crdt.Counter:
			for _, c := range f.Counts {
				b, _ := json.Marshal(map[string]int64{"origin_total": int64(c.P) - int64(c.N)})
				cv.Fields[f.Name] = b
			}
		}
	}
	return cv
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// Record is one entity of one dataset: the dataset's visible fields.
type Record struct {
	Key    string
	Fields map[string]json.RawMessage
}

// Export returns up to limit entities of dataset name with keys after after,
// each with only the dataset's fields, and the key to continue from.
func (e *Engine) Export(name, after string, limit int) ([]Record, string, error) {
	ds := e.cfg.Meta.View().Dataset(name)
	if ds == nil {
		return nil, "", fmt.Errorf("%w: dataset %q does not exist", ErrNotFound, name)
	}
	var out []Record
	for {
		page, err := e.cfg.Store.Entities(ds.EntityType, ds.KeyPrefix, after, limit)
		if err != nil {
			return nil, "", err
		}
		for _, p := range page {
			after = p.Key
			for _, st := range p.States {
				if st.Dataset != name || !st.State.Exists() {
					continue
				}
				rec := Record{Key: p.Key, Fields: map[string]json.RawMessage{}}
				for i := range st.State.Fields {
					if v, _, ok := render(&st.State.Fields[i]); ok && ds.Covers(st.State.Fields[i].Name) {
						rec.Fields[st.State.Fields[i].Name] = v
					}
				}
				out = append(out, rec)
			}
			if len(out) == limit {
				return out, after, nil
			}
		}
		if len(page) == 0 {
			return out, "", nil
		}
	}
}
