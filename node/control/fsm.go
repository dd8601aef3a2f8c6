package control

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
	save func(applied uint64, v *meta.View) error
	view atomic.Pointer[meta.View]
	// applied is the Raft index of the last entry applied, commands that
	// failed their checks included.
	applied atomic.Uint64

	mu      sync.Mutex
	changed chan struct{} // closed and replaced after every applied entry
}

func newFSM(logger *slog.Logger, refused *prometheus.CounterVec) *fsm {
	f := &fsm{logger: logger, refused: refused, changed: make(chan struct{})}
	f.view.Store(meta.EmptyView())
	return f
}

// persisted is the saved state of the FSM.
type persisted struct {
	Applied uint64          `json:"applied"`
	View    json.RawMessage `json:"view"`
}

func encodePersisted(applied uint64, v *meta.View) ([]byte, error) {
	b, err := v.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return json.Marshal(persisted{Applied: applied, View: b})
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
	next, err := f.view.Load().ApplyAuthorized(l.Index, c)
	if errors.Is(err, meta.ErrForbidden) {
		countRefused(f.refused, c.Op)
		f.logger.Warn("metadata change refused", "index", l.Index, "op", c.Op, "by", c.By, "err", err)
	}
	if err != nil {
		return err
	}
	f.view.Store(next)
	if f.save != nil {
		if err := f.save(l.Index, next); err != nil {
			// The log still has the entry: a restart replays it.
			f.logger.Error("save metadata", "index", l.Index, "err", err)
		}
	}
	return nil
}

// Snapshot captures the current view and the index it was applied at;
// Persist writes them as JSON.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &snapshot{applied: f.applied.Load(), view: f.view.Load()}, nil
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
	if f.save != nil {
		if err := f.save(p.Applied, v); err != nil {
			f.logger.Error("save metadata", "err", err)
		}
	}
	f.publish(p.Applied)
	return nil
}

type snapshot struct {
	applied uint64
	view    *meta.View
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	b, err := encodePersisted(s.applied, s.view)
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
