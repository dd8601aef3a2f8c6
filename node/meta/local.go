package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/storage"
)

// Store is the node's access to metadata. View never blocks. Propose blocks
// until the command is applied and durable (for the Raft implementation:
// committed by a quorum of seeds and applied here) and returns the view that
// includes it. All methods are safe for concurrent use.
type Store interface {
	View() *View
	Propose(ctx context.Context, c Command) (*View, error)
}

var _ Store = (*Local)(nil)

// Local is the metadata of a single-node federation, kept in the node's own
// store as one snapshot under the local key "meta/view" (metadata is small).
type Local struct {
	st   *storage.Store
	mu   sync.Mutex // serialises writes
	view atomic.Pointer[View]
}

const keyView = "meta/view"

// OpenLocal loads the metadata from st, adding self as a member if missing.
func OpenLocal(ctx context.Context, st *storage.Store, self Member) (*Local, error) {
	v := EmptyView()
	switch b, err := st.GetLocal(keyView); {
	case err == nil:
		if v, err = DecodeView(b); err != nil {
			return nil, fmt.Errorf("meta: stored metadata: %w", err)
		}
	case !errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("meta: stored metadata: %w", err)
	}
	l := &Local{st: st}
	l.view.Store(v)
	if _, err := l.PutMember(ctx, self); err != nil {
		return nil, err
	}
	return l, nil
}

// View returns the current metadata.
func (l *Local) View() *View { return l.view.Load() }

// Propose applies c at the next index and persists the result.
func (l *Local) Propose(ctx context.Context, c Command) (*View, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.view.Load()
	if c.At.IsZero() {
		c.At = time.Now().UTC()
	}
	next, err := cur.Apply(cur.Index+1, c)
	if err != nil || next == cur {
		return next, err
	}
	b, err := next.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	if err := l.st.Update(ctx, func(tx *storage.Txn) error {
		tx.PutLocal(keyView, b)
		return nil
	}); err != nil {
		return nil, err
	}
	l.view.Store(next)
	return next, nil
}

// PutMember admits member m or updates it.
func (l *Local) PutMember(ctx context.Context, m Member) (*View, error) {
	return l.Propose(ctx, Command{Op: OpPutMember, Member: &m})
}

// PutType adds entity type t or replaces it by a compatible version.
func (l *Local) PutType(ctx context.Context, t *dict.EntityType) (*View, error) {
	return l.Propose(ctx, Command{Op: OpPutType, Type: t})
}

// PutDataset creates dataset d.
func (l *Local) PutDataset(ctx context.Context, d *dict.Dataset) (*View, error) {
	return l.Propose(ctx, Command{Op: OpPutDataset, Dataset: d})
}
