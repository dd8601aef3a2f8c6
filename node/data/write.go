package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lienthong/lienthong/crdt"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
)

// Errors returned by the engine. Check them with errors.Is; validation
// failures also carry a *dict.Error (errors.As) naming the field and rule.
var (
	ErrNotFound = errors.New("data: not found")
	ErrNotOwner = errors.New("data: not the owner")
	ErrInvalid  = errors.New("data: invalid write")
	// ErrHeld is returned, as a *HeldError, by writes while they are held
	// (HoldWrites): at start, while an owner gets its own ops back from its
	// readers.
	ErrHeld = errors.New("data: writes held")
)

// HeldError is the error of a write refused while writes are held. Nothing
// was written; the same write may be sent again after RetryAfter.
type HeldError struct {
	Reason string
	// RetryAfter is when to ask again: what remains of the hold's limit,
	// but at most HeldRetry (at least 1 ms).
	RetryAfter time.Duration
}

// HeldRetry caps a HeldError's RetryAfter: a hold usually ends well before
// its limit (an owner gets its ops back from its readers in seconds), so a
// client is told to ask again soon rather than at the limit.
const HeldRetry = 2 * time.Second

func (e *HeldError) Error() string {
	return fmt.Sprintf("%v: %s; retry in %s", ErrHeld, e.Reason, e.RetryAfter.Round(time.Second).String())
}

// Unwrap makes errors.Is(err, ErrHeld) true.
func (e *HeldError) Unwrap() error { return ErrHeld }

// hold is why and until when writes are held.
type hold struct {
	reason      string
	untilMillis int64
}

// Config configures an Engine.
type Config struct {
	// Self is this node's member name: the origin of its ops.
	Self string
	// Store holds the data; Meta the federation's metadata.
	Store *storage.Store
	Meta  meta.Store
	// NowMillis returns physical time in Unix milliseconds. The simulator
	// passes its own clock.
	NowMillis func() int64
	// MaxClockAheadMillis bounds how far ahead of local time a remote
	// timestamp may be; zero means 60000 (one minute).
	MaxClockAheadMillis int64
	Logger              *slog.Logger
}

// Engine is the data plane of one node. Its methods are safe for concurrent
// use; writes are serialised by the store's committer.
type Engine struct {
	cfg Config
	// clock, scratch and types are touched only inside store Update functions,
	// which run one at a time on the committer goroutine.
	clock   *crdt.Clock
	scratch []byte
	types   typeIndex            // likewise
	held    atomic.Pointer[hold] // nil when writes are not held
}

// HoldWrites makes every write fail with a *HeldError naming reason until
// ReleaseWrites, which the caller promises within at most max.
func (e *Engine) HoldWrites(reason string, max time.Duration) {
	e.held.Store(&hold{reason: reason, untilMillis: e.cfg.NowMillis() + max.Milliseconds()})
}

// ReleaseWrites ends HoldWrites.
func (e *Engine) ReleaseWrites() { e.held.Store(nil) }

// New returns an engine over cfg.Store. It recovers the HLC from the heads of
// the node's own streams so that timestamps never go backwards on restart.
func New(cfg Config) (*Engine, error) {
	if cfg.MaxClockAheadMillis == 0 {
		cfg.MaxClockAheadMillis = 60_000
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, clock: crdt.NewClock(cfg.MaxClockAheadMillis)}
	heads, err := cfg.Store.Heads("")
	if err != nil {
		return nil, err
	}
	for _, h := range heads {
		e.clock.Observe(h.Time, h.Time.WallMillis) // never refused: its own bound is zero distance
	}
	return e, nil
}

// Mode says what a Write does.
type Mode int

const (
	// Put replaces the entity's fields in the dataset: fields not given are
	// cleared (counters are left as they are).
	Put Mode = iota + 1
	// Patch changes only the fields given. A set field takes an array
	// (replace) or {"add":[...],"remove":[...]}; a counter takes a number
	// (set to) or {"increment":n}; null clears a field.
	Patch
	// Delete removes the entity from the dataset (a tombstone).
	Delete
)

func (m Mode) String() string {
	switch m {
	case Put:
		return "put"
	case Patch:
		return "patch"
	case Delete:
		return "delete"
	}
	return "mode(" + strconv.Itoa(int(m)) + ")"
}

// Write is one change to one entity in one dataset, as an application asks it.
type Write struct {
	Dataset string
	Key     string
	Mode    Mode
	Fields  map[string]json.RawMessage // Put and Patch
	// IfMatch, if not empty, makes the write conditional: it is refused
	// with a *PreconditionError unless the entity exists at this node and
	// its ETag (Entity.ETag) is one of these tags, or one of them is AnyTag.
	// The comparison is strong: a weak tag ("W/…") matches nothing. The
	// check runs on the committer, atomically with the write.
	IfMatch []string
	// IfNoneMatch, if not empty, refuses the write, the same way, when the
	// entity exists at this node and its ETag is one of these tags or one of
	// them is AnyTag: a put with AnyTag only creates.
	IfNoneMatch []string
	// WantETag sets Result.ETag. It costs, on the committer, a read of the
	// entity's state in every other dataset of its type and a hash of its
	// states.
	WantETag bool
	// WantCreated sets Result.Created. It costs a read of the entity's
	// state, which a put does without otherwise (see intent.blind).
	WantCreated bool
}

// Result says where a write landed.
type Result struct {
	Dataset   string         `json:"dataset"`
	Key       string         `json:"key"`
	Origin    string         `json:"origin"`
	Seq       uint64         `json:"seq"`
	Time      crdt.Timestamp `json:"-"`
	MetaIndex uint64         `json:"meta_index"`
	// Created is true for a put that made an entity the dataset did not
	// hold (the API answers 201), if Write.WantCreated asked for it.
	Created bool `json:"-"`
	// ETag is the entity's ETag after the write ("" when it no longer
	// exists at this node), if Write.WantETag asked for it.
	ETag string `json:"-"`
}

// intent is a checked write, ready to become an op against the current state.
type intent struct {
	w      Write
	ds     *dict.Dataset
	typ    *meta.Type
	index  uint64
	fields []fieldIntent      // sorted by name
	pre    storage.Prefetched // the entity's state, read off the committer
	// blind: the op does not depend on the entity's state, and is applied
	// as a merge operand of its delta (Txn.AppendMerge) without reading it,
	// as a replica applies it. That is a put whose caller asked for no
	// Created, ETag or precondition, into a dataset without counters (a
	// counter's target is set against its current totals, and a state
	// keeps its counters through a put). A put replaces every field
	// written before it, so the state it leaves is its delta, with at most
	// the tag of an earlier delete besides: checkLimits on the delta is
	// checkLimits on that state, to within a tag, far inside the 4 MiB
	// between MaxOpBytes and MaxStateBytes. At a million entities the
	// read was a quarter of a writer's CPU, and it grows with the store.
	blind bool
}

type fieldIntent struct {
	name  string
	kind  crdt.Kind
	value json.RawMessage // register value or whole set or counter target; nil clears
	ops   bool            // set: add/remove; counter: increment
	add   []string
	rm    []string
	inc   int64
	want  []string // a whole set value, decoded, sorted and unique
}

// Write checks w against the current metadata and schema and applies it as
// one op of this node's stream. It returns once the op is synced to disk.
func (e *Engine) Write(ctx context.Context, w Write) (Result, error) {
	in, err := e.check(w)
	if err != nil {
		return Result{}, err
	}
	var res Result
	err = e.cfg.Store.Update(ctx, func(tx *storage.Txn) error {
		var err error
		res, err = e.apply(tx, in)
		return err
	})
	return res, err
}

// WriteBatch applies many writes with one sync. All writes are checked first;
// unless partial, the first invalid one fails the whole batch and its index is
// reported in a *BatchError, with nothing written. With partial, valid writes
// are applied and the invalid ones listed. A write refused only against the
// entity's state (the delete of a missing entity, a precondition that does
// not hold) counts as invalid too. Each write's conditions are checked
// against the entity as the writes before it in the batch left it.
func (e *Engine) WriteBatch(ctx context.Context, ws []Write, partial bool) ([]Result, []BatchError, error) {
	ins := make([]*intent, 0, len(ws))
	pos := make([]int, 0, len(ws)) // pos[j] is the index in ws of ins[j]
	var rejects []BatchError
	for i, w := range ws {
		in, err := e.check(w)
		if err != nil {
			if !partial {
				return nil, nil, &BatchError{Index: i, Err: err}
			}
			rejects = append(rejects, BatchError{Index: i, Err: err})
			continue
		}
		ins = append(ins, in)
		pos = append(pos, i)
	}
	results := make([]Result, 0, len(ins))
	var late []BatchError // writes refused against the state (delete of a missing entity, owner changed, precondition)
	err := e.cfg.Store.Update(ctx, func(tx *storage.Txn) error {
		results, late = results[:0], late[:0]
		for j, in := range ins {
			res, err := e.apply(tx, in)
			if err != nil {
				// apply writes nothing to tx when it fails, so a refused
				// write can be skipped without undoing anything.
				if !partial {
					return &BatchError{Index: pos[j], Err: err}
				}
				if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotOwner) && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrPrecondition) {
					return fmt.Errorf("key %s: %w", in.w.Key, err)
				}
				late = append(late, BatchError{Index: pos[j], Err: err})
				continue
			}
			results = append(results, res)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(late) > 0 {
		rejects = append(rejects, late...)
		slices.SortFunc(rejects, func(a, b BatchError) int { return a.Index - b.Index })
	}
	return results, rejects, nil
}

// BatchError is the failure of one write of a batch.
type BatchError struct {
	Index int // position in the batch
	Err   error
}

func (b *BatchError) Error() string { return fmt.Sprintf("write %d: %v", b.Index, b.Err) }
func (b *BatchError) Unwrap() error { return b.Err }

func invalid(field, rule, format string, args ...any) error {
	return fmt.Errorf("%w: %w", ErrInvalid, &dict.Error{Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)})
}

// check validates w against the current view; everything but the state.
func (e *Engine) check(w Write) (*intent, error) {
	if h := e.held.Load(); h != nil {
		left := time.Duration(max(h.untilMillis-e.cfg.NowMillis(), 1)) * time.Millisecond
		return nil, &HeldError{Reason: h.reason, RetryAfter: min(left, HeldRetry)}
	}
	v := e.cfg.Meta.View()
	ds := v.Dataset(w.Dataset)
	if ds == nil {
		return nil, fmt.Errorf("%w: dataset %q does not exist (lienthong dataset list shows the datasets)", ErrNotFound, w.Dataset)
	}
	if ds.Owner != e.cfg.Self {
		return nil, fmt.Errorf("%w: dataset %s is owned by %s, not by this node (%s); write to it at %s",
			ErrNotOwner, ds.Name, ds.Owner, e.cfg.Self, ds.Owner)
	}
	typ := v.Type(ds.EntityType)
	if err := typ.Validator.Key(w.Key); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if !ds.HasKey(w.Key) {
		return nil, invalid("", "key_prefix", "key %q is outside dataset %s, whose keys start with %q", w.Key, ds.Name, ds.KeyPrefix)
	}
	in := &intent{w: w, ds: ds, typ: typ, index: v.Index}
	switch w.Mode {
	case Delete:
		in.pre = e.cfg.Store.PrefetchState(ds.EntityType, w.Key, ds.Name)
		return in, nil
	case Put, Patch:
	default:
		return nil, fmt.Errorf("%w: unknown write mode %v", ErrInvalid, w.Mode)
	}
	if w.Mode == Patch && len(w.Fields) == 0 {
		return nil, invalid("", "empty", "the patch changes no field; give at least one")
	}
	plain := make(map[string]json.RawMessage, len(w.Fields))
	for name, raw := range w.Fields {
		f, ok := typ.Fields[name]
		if !ok || !ds.Covers(name) || w.Mode == Put || !isObject(raw) || (f.Type != dict.Set && f.Type != dict.Counter) {
			plain[name] = raw
			continue
		}
		fi, err := parseFieldOps(typ.Validator, name, f.Type, raw)
		if err != nil {
			return nil, err
		}
		in.fields = append(in.fields, fi)
	}
	if err := typ.Validator.Record(ds, plain, w.Mode == Patch); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	for name, raw := range plain {
		fi := fieldIntent{name: name, kind: kindOf(typ.Fields[name].Type)}
		if !isNull(raw) {
			fi.value = raw
			if fi.kind == crdt.Set {
				json.Unmarshal(raw, &fi.want) // validated; decoded here, off the committer
				fi.want = sortUnique(fi.want)
			}
		}
		in.fields = append(in.fields, fi)
	}
	slices.SortFunc(in.fields, func(a, b fieldIntent) int { return cmpString(a.name, b.name) })
	if in.blind = w.Mode == Put && len(w.IfMatch) == 0 && len(w.IfNoneMatch) == 0 && !w.WantETag && !w.WantCreated &&
		!coversCounter(ds, typ) && !BrokenPutForTesting.Load(); !in.blind {
		in.pre = e.cfg.Store.PrefetchState(ds.EntityType, w.Key, ds.Name)
	}
	return in, nil
}

// coversCounter reports whether a field of dataset ds is a counter.
func coversCounter(ds *dict.Dataset, typ *meta.Type) bool {
	for _, name := range ds.Fields {
		if typ.Fields[name].Type == dict.Counter {
			return true
		}
	}
	return false
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseFieldOps parses a patch's {"add","remove"} for a set or {"increment"}
// for a counter.
func parseFieldOps(val *dict.Validator, name string, ft dict.FieldType, raw json.RawMessage) (fieldIntent, error) {
	fi := fieldIntent{name: name, kind: kindOf(ft), ops: true}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if ft == dict.Set {
		var o struct {
			Add    []string `json:"add"`
			Remove []string `json:"remove"`
		}
		if err := dec.Decode(&o); err != nil {
			return fi, invalid(name, "type", "field %q: a set patch is {\"add\":[...],\"remove\":[...]} of strings: %v", name, err)
		}
		for _, el := range slices.Concat(o.Add, o.Remove) {
			if err := val.Element(name, el); err != nil {
				return fi, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
		fi.add, fi.rm = sortUnique(o.Add), sortUnique(o.Remove)
		if len(fi.add) == 0 && len(fi.rm) == 0 {
			return fi, invalid(name, "empty", "field %q: the set patch adds and removes nothing", name)
		}
		return fi, nil
	}
	var o struct {
		Increment json.RawMessage `json:"increment"`
	}
	if err := dec.Decode(&o); err != nil || o.Increment == nil {
		return fi, invalid(name, "type", "field %q: a counter patch is {\"increment\": n} with an integer n", name)
	}
	if err := val.Value(name, o.Increment); err != nil {
		return fi, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	n, err := strconv.ParseInt(string(o.Increment), 10, 64)
	if err != nil || n == 0 {
		return fi, invalid(name, "type", "field %q: increment must be a non-zero integer, got %s", name, o.Increment)
	}
	fi.inc = n
	return fi, nil
}

func sortUnique(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func kindOf(t dict.FieldType) crdt.Kind {
	switch t {
	case dict.Set:
		return crdt.Set
	case dict.Counter:
		return crdt.Counter
	}
	return crdt.Register
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}

// apply turns a checked intent into an op against the entity's current state
// and appends it. It runs on the committer goroutine.
func (e *Engine) apply(tx *storage.Txn, in *intent) (Result, error) {
	ds := e.cfg.Meta.View().Dataset(in.ds.Name)
	if ds == nil || ds.Owner != e.cfg.Self {
		return Result{}, fmt.Errorf("%w: dataset %s changed owner while the write waited; retry at its owner",
			ErrNotOwner, in.ds.Name)
	}
	typ, key := in.ds.EntityType, in.w.Key
	st, err := &crdt.State{}, error(nil) // a blind put's op is built against nothing
	if !in.blind {
		if st, err = tx.StateFrom(&in.pre, typ, key, ds.Name); err != nil {
			return Result{}, err
		}
	}
	var states []storage.DatasetState // every dataset's state of the entity, for its ETag
	if conditional := len(in.w.IfMatch) > 0 || len(in.w.IfNoneMatch) > 0; conditional || in.w.WantETag {
		if states, err = e.statesLocked(tx, typ, key, ds.Name, st); err != nil {
			return Result{}, err
		}
		if conditional {
			var cur string
			cur, e.scratch = etag(states, e.scratch)
			if err := checkPrecondition(in.w, typ, cur); err != nil {
				return Result{}, err
			}
		}
	}
	if in.w.Mode == Delete && !st.Exists() {
		return Result{}, fmt.Errorf("%w: %s has no entity %q", ErrNotFound, ds.Name, key)
	}
	if in.w.Mode == Patch && !st.Exists() {
		// A patch would create it without its required fields.
		return Result{}, fmt.Errorf("%w: %s has no entity %q to patch; create it with a put", ErrNotFound, ds.Name, key)
	}
	head, err := tx.Head(ds.Name, e.cfg.Self)
	if err != nil {
		return Result{}, err
	}
	op := &crdt.Op{
		Dataset: ds.Name, Origin: e.cfg.Self, Seq: head.Seq + 1, Prev: head.Hash,
		Epoch: ds.OwnerEpoch, MetaIndex: in.index, Time: e.clock.Now(e.cfg.NowMillis()),
		Type: typ, Key: key, Delete: in.w.Mode == Delete, Replace: in.w.Mode == Put && !BrokenPutForTesting.Load(),
	}
	if op.Fields, err = e.fieldOps(in, ds, st); err != nil {
		return Result{}, err
	}
	created := in.w.WantCreated && in.w.Mode == Put && !st.Exists()
	if in.blind {
		st = op.Delta() // the state it leaves, but an earlier delete's tag
	} else {
		st.Apply(op)
	}
	if err := e.checkLimits(in.typ, op, st); err != nil {
		return Result{}, err
	}
	if in.blind {
		_, err = tx.AppendDelta(op, st)
	} else {
		_, err = tx.Append(op, st)
	}
	if err != nil {
		return Result{}, err
	}
	res := Result{Dataset: ds.Name, Key: key, Origin: op.Origin, Seq: op.Seq, Time: op.Time, MetaIndex: op.MetaIndex, Created: created}
	if in.w.WantETag {
		// states holds st, which now has op applied.
		res.ETag, e.scratch = etag(states, e.scratch)
	}
	return res, nil
}

// checkLimits refuses an op, or the state it makes, beyond the limits of
// crdt (limits.go) or beyond a set's max_items, so that nothing is
// acknowledged that a replica could not decode. A whole set value was
// checked against max_items with the record, but an add patch can only be
// checked against the state it applies to. Ops that only remove pass the
// set limits, so that a set grown past them by concurrent adds elsewhere
// can shrink. It runs on the committer goroutine (e.scratch).
func (e *Engine) checkLimits(typ *meta.Type, op *crdt.Op, st *crdt.State) error {
	for _, f := range op.Fields {
		switch f.Kind {
		case crdt.Register:
			if len(f.Value) > crdt.MaxValueBytes {
				return invalid(f.Name, dict.RuleMaxValueBytes, "field %q: the value is %d bytes, more than the limit of %d per value (max_value_bytes); keep large documents elsewhere and store a reference",
					f.Name, len(f.Value), crdt.MaxValueBytes)
			}
		case crdt.Set:
			for _, v := range f.Add {
				if len(v) > crdt.MaxValueBytes {
					return invalid(f.Name, dict.RuleMaxValueBytes, "field %q: an element is %d bytes, more than the limit of %d per value (max_value_bytes)",
						f.Name, len(v), crdt.MaxValueBytes)
				}
			}
			if len(f.Add) == 0 {
				continue
			}
			n := len(st.Field(f.Name).Members())
			if limit := typ.Fields[f.Name].MaxItems; limit != nil && n > *limit {
				return invalid(f.Name, dict.RuleMaxItems, "field %q: the write would make %d elements, more than max_items %d; remove some",
					f.Name, n, *limit)
			}
			if n > crdt.MaxSetElems {
				return invalid(f.Name, dict.RuleMaxSetElems, "field %q: the write would make %d elements, more than the limit of %d per set (max_set_elements); remove some",
					f.Name, n, crdt.MaxSetElems)
			}
		}
	}
	e.scratch = crdt.AppendOp(e.scratch[:0], op)
	if n := len(e.scratch); n > crdt.MaxOpBytes {
		return invalid("", dict.RuleMaxOpBytes, "the write is %d bytes encoded, more than the limit of %d per write (max_op_bytes); split it into patches of fewer fields",
			n, crdt.MaxOpBytes)
	}
	e.scratch = crdt.AppendState(e.scratch[:0], st)
	if n := len(e.scratch); n > crdt.MaxStateBytes {
		return invalid("", dict.RuleMaxStateBytes, "the entity would be %d bytes encoded, more than the limit of %d per entity and dataset (max_state_bytes); clear some fields",
			n, crdt.MaxStateBytes)
	}
	return nil
}

// BrokenPutForTesting, when set, makes a put clear only the fields this node
// has seen instead of replacing the entity (crdt.Op.Replace), as in the first
// round. It exists so that the simulator's tests can show that the swarm
// finds this class of bug; nothing else may set it.
var BrokenPutForTesting atomic.Bool

// fieldOps builds the op's field changes, sorted by name, from the intent and
// the state it applies to.
func (e *Engine) fieldOps(in *intent, ds *dict.Dataset, st *crdt.State) ([]crdt.FieldOp, error) {
	var ops []crdt.FieldOp
	if in.w.Mode == Delete {
		for _, name := range ds.Fields {
			if f := st.Field(name); f != nil && f.Kind == crdt.Counter && len(f.Counts) > 0 {
				ops = append(ops, crdt.FieldOp{Name: name, Kind: crdt.Counter, Bases: slices.Clone(f.Counts)})
			}
		}
		slices.SortFunc(ops, func(a, b crdt.FieldOp) int { return cmpString(a.Name, b.Name) })
		return ops, nil
	}
	put := in.w.Mode == Put && !BrokenPutForTesting.Load()
	for _, fi := range in.fields {
		cur := st.Field(fi.name)
		if put && fi.kind == crdt.Set {
			cur = nil // the put hides every dot before it: add each wanted element anew
		}
		op, ok, err := e.fieldOp(fi, cur)
		if err != nil {
			return nil, err
		}
		if ok {
			ops = append(ops, op)
		}
	}
	if in.w.Mode == Put && BrokenPutForTesting.Load() {
		// The put of the first round: it cleared only what this node had
		// seen, so an older owner's write to a field it never saw survived.
		given := map[string]bool{}
		for _, fi := range in.fields {
			given[fi.name] = true
		}
		for _, name := range ds.Fields {
			f := st.Field(name)
			if given[name] || f == nil || !f.Present() || f.Kind == crdt.Counter {
				continue
			}
			if op, ok, _ := e.fieldOp(fieldIntent{name: name, kind: f.Kind}, f); ok { // clears: no error
				ops = append(ops, op)
			}
		}
	}
	slices.SortFunc(ops, func(a, b crdt.FieldOp) int { return cmpString(a.Name, b.Name) })
	return ops, nil
}

// fieldOp builds the change of one field; ok is false when it changes nothing.
func (e *Engine) fieldOp(fi fieldIntent, cur *crdt.FieldState) (crdt.FieldOp, bool, error) {
	op := crdt.FieldOp{Name: fi.name, Kind: fi.kind}
	switch fi.kind {
	case crdt.Register:
		op.Value = fi.value
		return op, true, nil
	case crdt.Set:
		add, rm := fi.add, fi.rm
		if !fi.ops {
			// Replace: add what is wanted and absent, remove what is present
			// and unwanted; elements kept keep their dots, so an unchanged set
			// writes nothing and leaves no tombstones.
			want := fi.want
			var have []string
			if cur != nil {
				have = cur.Members()
			}
			add = nil
			for _, v := range want {
				if _, ok := slices.BinarySearch(have, v); !ok {
					add = append(add, v)
				}
			}
			for _, m := range have {
				if _, keep := slices.BinarySearch(want, m); !keep {
					rm = append(rm, m)
				}
			}
		}
		if fi.ops && cur != nil {
			// Adding a present element would only add a dot, unless the
			// patch also removes it: then the new dot must survive the
			// removal of the old ones (add wins), or the same patch would
			// toggle the element depending on whether it was present.
			have := cur.Members()
			add = slices.DeleteFunc(slices.Clone(add), func(v string) bool {
				_, ok := slices.BinarySearch(have, v)
				_, removed := slices.BinarySearch(rm, v)
				return ok && !removed
			})
		}
		op.Add = add
		if cur != nil {
			for _, v := range rm {
				if dots := cur.Dots(v); len(dots) > 0 {
					op.Remove = append(op.Remove, crdt.Elem{Value: v, Removes: dots})
				}
			}
		}
		return op, len(op.Add) > 0 || len(op.Remove) > 0, nil
	case crdt.Counter:
		var own crdt.Count
		var total int64
		if cur != nil {
			own, total = cur.Own(e.cfg.Self), cur.Total()
		} else {
			own.Origin = e.cfg.Self
		}
		target := total + fi.inc
		if !fi.ops {
			target = 0
			if fi.value != nil {
				target, _ = strconv.ParseInt(string(bytes.TrimSpace(fi.value)), 10, 64) // validated
			}
		} else if fi.inc > 0 && target < total || fi.inc < 0 && target > total {
			return op, false, invalid(fi.name, dict.RuleCounterRange, "field %q: %d %+d is outside the counter's range, %d to %d (counter_range); a counter is a 64-bit integer",
				fi.name, total, fi.inc, math.MinInt64, math.MaxInt64)
		}
		// The change is target - total, which may not fit an int64 (from
		// -2^63 to 2^63-1): add it to P or N as a uint64, where it fits.
		switch {
		case target == total:
			return op, false, nil
		case target > total:
			d := uint64(target) - uint64(total)
			if own.P+d < own.P {
				return op, false, errCounterSpent(fi.name)
			}
			own.P += d
		default:
			d := uint64(total) - uint64(target)
			if own.N+d < own.N {
				return op, false, errCounterSpent(fi.name)
			}
			own.N += d
		}
		op.Counts = []crdt.Count{own}
		return op, true, nil
	}
	return op, false, nil
}

// errCounterSpent: this node's running total of increments (or decrements)
// of the counter would pass 2^64, which the state-based counter cannot
// represent (merges take the greatest total per origin).
func errCounterSpent(name string) error {
	return invalid(name, dict.RuleCounterRange, "field %q: this node's running total of changes to the counter would pass 2^64 (counter_range); a counter cannot change by more than that over its life from one node", name)
}
