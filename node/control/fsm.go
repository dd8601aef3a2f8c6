package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lienthong/lienthong/node/meta"
)

// fsm applies committed commands to the metadata view. Raft calls Apply,
// Snapshot and Restore from one goroutine; View and Changed are safe from any.
type fsm struct {
	logger *slog.Logger
	// refused counts commands refused for lack of authority, by op.
	refused *prometheus.CounterVec
	// save persists the view with the index of the last applied entry, so
	// that a restarted node serves its last metadata at once, even when it
	// cannot reach a leader to learn the commit index. May be nil.
	save func(applied uint64, v *meta.View, recent []string) error
	view atomic.Pointer[meta.View]
	// applied is the Raft index of the last entry applied, commands that
	// failed their checks included.
	applied atomic.Uint64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every applied entry

	// recent are the IDs of the last maxRecent commands applied, oldest
	// first, and seen the same as a set: a retried proposal whose first
	// attempt reached the log too is applied once. Saved and snapshotted
	// with the view, so every replica skips the same copies. Raft's FSM
	// goroutine alone uses them.
	recent []string
	seen   map[string]bool
}

// maxRecent bounds the proposal IDs remembered: a retry comes within a
// proposal timeout, a few entries later.
const maxRecent = 1024

// remember records the ID of an applied command.
func (f *fsm) remember(ids ...string) {
	for _, id := range ids {
		if id == "" || f.seen[id] {
			continue
		}
		f.recent = append(f.recent, id)
		f.seen[id] = true
		if len(f.recent) > maxRecent {
			delete(f.seen, f.recent[0])
			f.recent = f.recent[1:]
		}
	}
}

// setRecent replaces the remembered IDs by those of saved state.
func (f *fsm) setRecent(ids []string) {
	f.recent, f.seen = nil, map[string]bool{}
	f.remember(ids...)
}

func newFSM(logger *slog.Logger, refused *prometheus.CounterVec) *fsm {
	f := &fsm{logger: logger, refused: refused, changed: make(chan struct{}), seen: map[string]bool{}}
	f.view.Store(meta.EmptyView())
	return f
}

// persisted is the saved state of the FSM.
type persisted struct {
	Applied uint64          `json:"applied"`
	View    json.RawMessage `json:"view"`
	Recent  []string        `json:"recent,omitempty"` // fsm.recent
}

func encodePersisted(applied uint64, v *meta.View, recent []string) ([]byte, error) {
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(persisted{Applied: applied, View: b, Recent: recent})
}

// load starts the FSM from saved state: entries up to its index are not
// applied again when Raft replays its log.
func (f *fsm) load(b []byte) error {
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("saved metadata: %w", err)
	}
	v, err := meta.DecodeView(p.View)
	if err != nil {
		return fmt.Errorf("saved metadata: %w", err)
	}
	f.view.Store(v)
	f.applied.Store(p.Applied)
	f.setRecent(p.Recent)
	return nil
}

// Changed returns a channel closed at the next applied entry.
func (f *fsm) Changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changed
}

func (f *fsm) publish(index uint64) {
	f.applied.Store(index)
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
}

// Apply applies one log entry and returns the error of a command that fails
// its checks (the same error on every replica: the view does not change).
// Authority is checked here, against the view the command applies to: a
// command whose proposer (By) may not make it is applied as a refusal, an
// ErrForbidden result, counted and logged, whoever forwarded or replayed it.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Index <= f.applied.Load() {
		return nil // replayed after a restart: already in the saved view
	}
	defer f.publish(l.Index)
	var c meta.Command
	if err := json.Unmarshal(l.Data, &c); err != nil {
		// Only a proposer of this build writes entries; an undecodable one
		// is a bug or corruption, and every replica skips it alike.
		f.logger.Error("undecodable metadata command", "index", l.Index, "err", err)
		return fmt.Errorf("%w: undecodable command at index %d", meta.ErrInvalid, l.Index)
	}
	if c.ID != "" && f.seen[c.ID] {
		return nil // a retried proposal whose first attempt is applied
	}
	next, err := f.view.Load().ApplyAuthorized(l.Index, c)
	if errors.Is(err, meta.ErrForbidden) {
		countRefused(f.refused, c.Op)
		f.logger.Warn("metadata change refused", "index", l.Index, "op", c.Op, "by", c.By, "err", err)
	}
	if err != nil {
		return err
	}
	f.view.Store(next)
	f.remember(c.ID)
	if f.save != nil {
		if err := f.save(l.Index, next, f.recent); err != nil {
			// The log still has the entry: a restart replays it.
			f.logger.Error("save metadata", "index", l.Index, "err", err)
		}
	}
	return nil
}

// Snapshot captures the current view and the index it was applied at;
// Persist writes them as JSON.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{applied: f.applied.Load(), view: f.view.Load(), recent: slices.Clone(f.recent)}, nil
}

// Restore replaces the view by a snapshot's, unless the saved view this
// node started from is already newer (Raft restores its latest snapshot at
// every start).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("read metadata snapshot: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("metadata snapshot: %w", err)
	}
	if p.Applied <= f.applied.Load() {
		return nil
	}
	v, err := meta.DecodeView(p.View)
	if err != nil {
		return err
	}
	f.view.Store(v)
	f.setRecent(p.Recent)
	if f.save != nil {
		if err := f.save(p.Applied, v, f.recent); err != nil {
			f.logger.Error("save metadata", "err", err)
		}
	}
	f.publish(p.Applied)
	return nil
}

type snapshot struct {
	applied uint64
	view    *meta.View
	recent  []string
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	b, err := encodePersisted(s.applied, s.view, s.recent)
	if err == nil {
		_, err = sink.Write(b)
	}
	if err != nil {
		sink.Cancel()
		return fmt.Errorf("persist metadata snapshot: %w", err)
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

// countRefused counts a refused command under its op, or "unknown": an op
// that is not one of meta's never becomes a label of its own.
func countRefused(c *prometheus.CounterVec, op string) {
	if !meta.KnownOp(op) {
		op = "unknown"
	}
	c.WithLabelValues(op).Inc()
}
