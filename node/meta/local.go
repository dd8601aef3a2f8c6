package meta

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/storage"
)

// Store is the node's access to metadata. View never blocks; the writes
// block until the change is durable (and, for the Raft implementation,
// committed) and return the view that includes it. All methods are safe for
// concurrent use.
type Store interface {
	View() *View
	PutMember(ctx context.Context, m Member) (*View, error)
	PutType(ctx context.Context, t *dict.EntityType) (*View, error)
	PutDataset(ctx context.Context, d *dict.Dataset) (*View, error)
}

var _ Store = (*Local)(nil)

// Local is the metadata of a single-node federation, kept in the node's own
// store under the local keys "meta/...". Its only member is the node itself.
type Local struct {
	st   *storage.Store
	mu   sync.Mutex // serialises writes
	view atomic.Pointer[View]
}

// Local key names.
const (
	keyIndex         = "meta/index"
	keyMemberPrefix  = "meta/member/"
	keyTypePrefix    = "meta/type/"
	keyDatasetPrefix = "meta/dataset/"
)

// OpenLocal loads the metadata from st, adding self as a member if missing.
func OpenLocal(ctx context.Context, st *storage.Store, self Member) (*Local, error) {
	v := EmptyView()
	load := func(prefix string, apply func([]byte) error) error {
		return st.ScanLocal(prefix, func(name string, b []byte) error {
			if err := apply(b); err != nil {
				return fmt.Errorf("meta: stored %s: %w", name, err)
			}
			return nil
		})
	}
	err := errors.Join(
		load(keyMemberPrefix, func(b []byte) (err error) {
			var m Member
			if err = json.Unmarshal(b, &m); err == nil {
				v, err = v.WithMember(m)
			}
			return err
		}),
		load(keyTypePrefix, func(b []byte) (err error) {
			var t dict.EntityType
			if err = json.Unmarshal(b, &t); err == nil {
				v, err = v.WithType(&t)
			}
			return err
		}),
		load(keyDatasetPrefix, func(b []byte) (err error) {
			var d dict.Dataset
			if err = json.Unmarshal(b, &d); err == nil {
				v, err = v.WithDataset(&d)
			}
			return err
		}),
	)
	if err != nil {
		return nil, err
	}
	switch b, err := st.GetLocal(keyIndex); {
	case err == nil && len(b) == 8:
		v.Index = binary.BigEndian.Uint64(b)
	case errors.Is(err, storage.ErrNotFound):
		v.Index = 0
	default:
		return nil, fmt.Errorf("meta: stored index: %v", err)
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

// PutMember admits member m or updates it.
func (l *Local) PutMember(ctx context.Context, m Member) (*View, error) {
	return l.write(ctx, keyMemberPrefix+m.Name, func(v *View) (*View, any, error) {
		if cur := v.Member(m.Name); cur != nil && *cur == m {
			return v, nil, nil
		}
		n, err := v.WithMember(m)
		return n, m, err
	})
}

// PutType adds entity type t or replaces it by a compatible version.
func (l *Local) PutType(ctx context.Context, t *dict.EntityType) (*View, error) {
	return l.write(ctx, keyTypePrefix+t.Name, func(v *View) (*View, any, error) {
		n, err := v.WithType(t)
		return n, t, err
	})
}

// PutDataset creates dataset d.
func (l *Local) PutDataset(ctx context.Context, d *dict.Dataset) (*View, error) {
	return l.write(ctx, keyDatasetPrefix+d.Name, func(v *View) (*View, any, error) {
		n, err := v.WithDataset(d)
		if err != nil {
			return nil, nil, err
		}
		return n, n.Dataset(d.Name), nil // as stored, with its owner epoch
	})
}

// write applies change to the current view and, if it changed anything,
// persists the object change returns under key, with the new index, before
// publishing the new view.
func (l *Local) write(ctx context.Context, key string, change func(*View) (*View, any, error)) (*View, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur := l.view.Load()
	next, obj, err := change(cur)
	if err != nil {
		return nil, err
	}
	if next == cur {
		return cur, nil
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	err = l.st.Update(ctx, func(tx *storage.Txn) error {
		tx.PutLocal(key, b)
		tx.PutLocal(keyIndex, binary.BigEndian.AppendUint64(nil, next.Index))
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.view.Store(next)
	return next, nil
}
