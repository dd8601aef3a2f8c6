package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	cerrors "github.com/cockroachdb/errors"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/lienthong/lienthong/crdt"
)

// Errors returned by the store. Check them with errors.Is.
var (
	ErrNotFound = errors.New("storage: not found")
	ErrInvalid  = errors.New("storage: invalid argument")
	// ErrSequence is returned by Txn.Append for an op that does not continue
	// its stream: a gap, a replay or a broken hash chain.
	ErrSequence = errors.New("storage: op does not continue its stream")
	ErrClosed   = errors.New("storage: store closed")
	// ErrFailed is returned by every write after a write to disk failed
	// (disk full, I/O error): what reached the disk is unknown until the
	// store is reopened, so it refuses to guess.
	ErrFailed = errors.New("storage: store failed after a disk error; fix the disk and restart the node")
)

// Options configure Open.
type Options struct {
	// Dir is the database directory, created if missing.
	Dir string
	// FS is the file system; nil means the operating system's (vfs.Default).
	FS vfs.FS
	// CacheBytes is the block cache size in bytes; zero means 64 MiB.
	CacheBytes int64
	// MemTableBytes is the size of Pebble's memtable in bytes; zero means
	// 32 MiB. The simulator, with dozens of stores in one process, uses less.
	MemTableBytes uint64
	// MaxGroupWrites bounds how many Update functions share one batch and
	// one sync; zero means 1024.
	MaxGroupWrites int
	// MinFreeBytes is the free space, in bytes, the disk must have for Open
	// to proceed (ErrDiskFull otherwise); zero means twice MemTableBytes. It
	// is not checked on a file system that cannot tell (vfs.NewMem).
	MinFreeBytes uint64
	// DeferSyncs makes writes applied by Apply wait for the next Update or
	// Sync to reach the disk, instead of being synced as soon as the disk is
	// free. The simulator sets it, so that what a crash takes back depends
	// only on the order of its calls, never on goroutine timing.
	DeferSyncs bool
	// Logger receives Pebble's messages, each kind at most once every ten
	// seconds; nil discards them.
	Logger *slog.Logger
	// Fatal is called, on one of Pebble's goroutines, when Pebble cannot go
	// on there (it cannot write its MANIFEST: the disk is full or failing;
	// a broken invariant); err says why, and wraps ErrDiskFull for a full
	// disk. It must not return. nil means log err to Logger and exit the
	// process with status 1, as Pebble's own default does.
	Fatal func(err error)
}

// reads are the read methods shared by the Store (which sees every applied
// write, synced or not) and a Snapshot (which sees a durable point in time).
type reads struct {
	r  pebble.Reader
	al *alarm // the store's, shared by its snapshots
}

// Store is a node's database. All methods are safe for concurrent use.
type Store struct {
	reads
	db        *pebble.DB
	fs        vfs.FS // the file system of the store and its checkpoints
	cache     *pebble.Cache
	logger    *slog.Logger
	committed *committed // written by the sync stage only

	reqs     chan *request
	syncs    chan *group
	idle     chan struct{} // holds a token while the sync stage is free
	closing  chan struct{}
	closeErr error
	wg       sync.WaitGroup
	once     sync.Once
	closeMu  sync.RWMutex // held for reading while sending to reqs
	closed   bool         // guarded by closeMu

	durable       atomic.Uint64 // greatest change seq known synced
	appliedChange atomic.Uint64 // greatest change seq applied
	failed        atomic.Pointer[error]
	// giveUp receives the errors that make Open give up waiting for
	// Pebble's Open: a flush failing for want of space, a Fatalf.
	giveUp chan error
	// parkFatal is set while Open waits for Pebble's Open, and stays set if
	// Open gave up on it: Pebble's Fatalf then parks its goroutine instead
	// of calling Options.Fatal.
	parkFatal atomic.Bool
	onFatal   func(error)
	stalls    stalls

	mu struct {
		sync.Mutex
		notify chan struct{} // closed when durable advances
		// applied and synced are every stream's head: as applied (visible
		// to reads) and as synced to disk.
		applied, synced map[Stream]Head
	}

	// Owned by the committer goroutine.
	heads      map[string]Head
	nextChange uint64
	commits    uint64 // the commit counter: groups applied
	maxGroup   int
	deferSyncs bool
	unsynced   *group        // groups applied and not yet synced, merged (commit.go)
	recent     []recentGroup // the last groups applied, oldest first (prefetch.go)
	prefetch   struct{ hits, misses uint64 }

	applied atomic.Uint64 // groups applied and visible to reads (prefetch.go)
}

func (opts Options) withDefaults() Options {
	if opts.FS == nil {
		opts.FS = vfs.Default
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 64 << 20
	}
	if opts.MemTableBytes == 0 {
		opts.MemTableBytes = 32 << 20
	}
	if opts.MinFreeBytes == 0 {
		opts.MinFreeBytes = 2 * opts.MemTableBytes
	}
	if opts.MaxGroupWrites == 0 {
		opts.MaxGroupWrites = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Fatal == nil {
		opts.Fatal = exitOnFatal(opts.Logger)
	}
	return opts
}

// Open opens or creates the store in opts.Dir. It starts the committer; call
// Close to stop it.
//
// Open refuses a damaged store with an error wrapping ErrCorrupt that says
// what is damaged and what to do: a corrupt WAL, SSTable or manifest, a
// missing manifest marker, a WAL that lost acknowledged writes (see
// committedFile). It refuses a disk with less than opts.MinFreeBytes free,
// or full while opening, with ErrDiskFull.
func Open(opts Options) (*Store, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: no directory given", ErrInvalid)
	}
	opts = opts.withDefaults()
	if err := opts.FS.MkdirAll(opts.Dir, 0o755); err != nil {
		if isNoSpace(err) {
			return nil, diskFull(opts.Dir, err)
		}
		return nil, fmt.Errorf("storage: create %s: %w", opts.Dir, err)
	}
	if err := checkFree(opts.FS, opts.Dir, opts.MinFreeBytes); err != nil {
		return nil, err
	}
	s := &Store{
		reads:      reads{al: &alarm{dir: opts.Dir}},
		fs:         opts.FS,
		logger:     opts.Logger,
		reqs:       make(chan *request, opts.MaxGroupWrites),
		syncs:      make(chan *group),
		idle:       make(chan struct{}, 1),
		closing:    make(chan struct{}),
		heads:      map[string]Head{},
		maxGroup:   opts.MaxGroupWrites,
		deferSyncs: opts.DeferSyncs,
		giveUp:     make(chan error, 1),
		onFatal:    opts.Fatal,
	}
	marked, exists, err := readCommitted(s.al, opts.FS, opts.Dir)
	if err != nil {
		return nil, err
	}
	s.cache = pebble.NewCache(opts.CacheBytes)
	log := newPebbleLogger(opts.Logger, s.pebbleFatal)
	popts := &pebble.Options{
		FS:            opts.FS,
		Cache:         s.cache,
		Logger:        log,
		EventListener: s.eventListener(log),
		// A directory with committedFile holds a store: a missing manifest
		// is damage, not an invitation to create an empty store.
		ErrorIfNotExists: exists,
		// WAL chunks carry the offset synced so far, so damage in the
		// middle of the last WAL is told apart from a torn tail.
		FormatMajorVersion: pebble.FormatWALSyncChunks,
		// Larger memtables flush less often under write load.
		MemTableSize: opts.MemTableBytes,
		Merger:       stateMerger,
	}
	// The write path reads each entity's state before writing it, and most
	// writes of a bulk load are to new keys: bloom filters answer "absent"
	// without reading blocks (L1 and below inherit L0's policy).
	popts.Levels[0].FilterPolicy = bloom.FilterPolicy(10)
	s.parkFatal.Store(true)
	db, err := openPebble(opts.Dir, popts, s.al, s.giveUp)
	if err != nil {
		s.cache.Unref()
		return nil, err
	}
	s.parkFatal.Store(false)
	s.db, s.reads.r = db, db
	if err := s.load(opts.FS, opts.Dir, marked, exists); err != nil {
		s.db.Close()
		s.cache.Unref()
		return nil, err
	}
	s.mu.notify = make(chan struct{})
	s.idle <- struct{}{}
	s.wg.Add(2)
	go s.commitLoop()
	go s.syncLoop()
	return s, nil
}

// openPebble opens the database, naming damage and a full disk. Pebble's
// Open waits for the flush of the WALs it replayed, and retries a failed
// flush for ever: on the first error on giveUp (a flush failing for want of
// space, a Fatalf) it returns that error, leaving Pebble's Open behind
// (throttled by Store.eventListener, or parked by Store.pebbleFatal) until
// the process exits, or until it returns and the database is closed.
func openPebble(dir string, o *pebble.Options, al *alarm, giveUp <-chan error) (*pebble.DB, error) {
	type result struct {
		db  *pebble.DB
		err error
	}
	done, abandoned := make(chan result, 1), make(chan struct{})
	go func() {
		db, err := tryOpenPebble(dir, o, al)
		select {
		case done <- result{db, err}:
		case <-abandoned:
			if db != nil {
				db.Close()
			}
		}
	}()
	select {
	case r := <-done:
		return r.db, r.err
	case err := <-giveUp:
		close(abandoned)
		return nil, err
	}
}

func tryOpenPebble(dir string, o *pebble.Options, al *alarm) (db *pebble.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, al.corrupt("opening the store", panicked(r))
		}
	}()
	db, err = pebble.Open(dir, o)
	switch {
	case err == nil:
		return db, nil
	case errors.Is(err, pebble.ErrDBDoesNotExist):
		return nil, al.corrupt("opening the store", fmt.Errorf("the Pebble manifest marker (marker.manifest.*) is missing from %s, which holds a store (%s is there)", dir, committedFile))
	case isNoSpace(err):
		return nil, diskFull(dir, err)
	case pebble.IsCorruptionError(err):
		if d := cerrors.FlattenDetails(err); d != "" {
			err = fmt.Errorf("%w (%s)", err, strings.ReplaceAll(d, "\n", "; "))
		}
		return nil, al.corrupt("opening the store (replaying the write-ahead log or reading the manifest)", err)
	default:
		return nil, fmt.Errorf("storage: open %s: %w", dir, err)
	}
}

// load reads what the committer keeps in memory, checks the commit counter
// against committedFile (marked, if it exists) and opens that file.
func (s *Store) load(fs vfs.FS, dir string, marked uint64, exists bool) error {
	heads, err := s.reads.Heads("")
	if err != nil {
		return err
	}
	s.mu.applied, s.mu.synced = heads, maps.Clone(heads)
	last, err := s.lastChange()
	if err != nil {
		return err
	}
	s.nextChange = last + 1
	s.durable.Store(last)
	s.appliedChange.Store(last)
	if s.commits, err = readCommitCounter(s.al, s.db); err != nil {
		return err
	}
	s.applied.Store(s.commits)
	switch {
	case exists && s.commits < marked:
		return s.al.corrupt("opening the store", fmt.Errorf(
			"the write-ahead log lost acknowledged writes: group commit %d was acknowledged, the store recovered up to %d (a WAL cut short or damaged near its end)",
			marked, s.commits))
	case !exists && s.commits > 0:
		return s.al.corrupt("opening the store", fmt.Errorf(
			"%s is missing from %s, whose store has %d group commits: it was deleted, or the directory was copied without it", committedFile, dir, s.commits))
	case !exists:
		if err := createCommitted(fs, dir, s.commits); err != nil {
			if isNoSpace(err) {
				return diskFull(dir, err)
			}
			return fmt.Errorf("storage: create %s: %w", fs.PathJoin(dir, committedFile), err)
		}
	}
	if s.committed, err = openCommitted(fs, dir); err != nil {
		return fmt.Errorf("storage: open %s: %w", fs.PathJoin(dir, committedFile), err)
	}
	return nil
}

// Close stops the committer after the writes already queued, then closes the
// database. Updates after Close return ErrClosed.
func (s *Store) Close() error {
	s.once.Do(func() {
		s.closeMu.Lock()
		s.closed = true
		s.closeMu.Unlock()
		close(s.closing)
		s.wg.Wait()
		s.closeErr = errors.Join(s.db.Close(), s.committed.close())
		s.cache.Unref()
	})
	return s.closeErr
}

func (s *Store) lastChange() (uint64, error) {
	k, err := s.lastKey(s.db, []byte{tableChange})
	if err != nil || k == nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// lastKey returns a copy of the last key of r with prefix; nil if none.
func (s reads) lastKey(r pebble.Reader, prefix []byte) (key []byte, err error) {
	defer s.al.guard(prefix, &err)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, s.al.check(prefix, err)
	}
	if it.Last() {
		key = bytes.Clone(it.Key())
	}
	return key, s.al.check(prefix, errors.Join(it.Error(), it.Close()))
}

// get returns a copy of the value of key, or ErrNotFound.
func (a *alarm) get(r pebble.Reader, key []byte) (_ []byte, err error) {
	defer a.guard(key, &err)
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, a.check(key, err)
	}
	defer closer.Close()
	return bytes.Clone(v), nil
}

// DatasetState is the state of one entity within one dataset.
type DatasetState struct {
	Dataset string
	State   *crdt.State
}

// Entity returns the states of entity (typ, key) in every dataset that holds
// it, sorted by dataset name; none if the entity was never written.
func (s reads) Entity(typ, key string) ([]DatasetState, error) {
	var out []DatasetState
	err := s.scan(entityPrefix(typ, key), nil, func(k, v []byte) (bool, error) {
		st, err := crdt.DecodeState(v)
		if err != nil {
			return false, s.al.corrupt(describe(k), err)
		}
		out = append(out, DatasetState{Dataset: string(k[len(entityPrefix(typ, key)):]), State: st})
		return true, nil
	})
	return out, err
}

// EntityStates is one entity with its per-dataset states.
type EntityStates struct {
	Key    string
	States []DatasetState
}

// Entities returns up to limit entities of type typ whose keys start with
// keyPrefix and order after the key after ("" starts at the first), in key
// order.
func (s reads) Entities(typ, keyPrefix, after string, limit int) ([]EntityStates, error) {
	prefix := append(appendParts(nil, tableEntity, typ), sep)
	start := append(append([]byte{}, prefix...), keyPrefix...)
	if after != "" {
		if a := prefixEnd(entityPrefix(typ, after)); bytes.Compare(a, start) > 0 {
			start = a
		}
	}
	scanPrefix := append(append([]byte{}, prefix...), keyPrefix...)
	var out []EntityStates
	err := s.scan(scanPrefix, start, func(k, v []byte) (bool, error) {
		rest := k[len(prefix):]
		i := bytes.IndexByte(rest, sep)
		if i < 0 {
			return false, s.al.corrupt(describe(k), errors.New("malformed key"))
		}
		key, dataset := string(rest[:i]), string(rest[i+1:])
		if len(out) == 0 || out[len(out)-1].Key != key {
			if len(out) == limit {
				return false, nil
			}
			out = append(out, EntityStates{Key: key})
		}
		st, err := crdt.DecodeState(v)
		if err != nil {
			return false, s.al.corrupt(describe(k), err)
		}
		e := &out[len(out)-1]
		e.States = append(e.States, DatasetState{Dataset: dataset, State: st})
		return true, nil
	})
	return out, err
}

// scan calls fn for every key with prefix, from start (nil: the prefix) on,
// until fn returns false or an error. k and v are valid only during the call.
// A panic in fn is fn's: it is not taken for damage.
func (s reads) scan(prefix, start []byte, fn func(k, v []byte) (bool, error)) (err error) {
	inFn := false
	defer func() {
		if r := recover(); r != nil {
			if inFn {
				panic(r)
			}
			err = s.al.corrupt(describe(prefix), panicked(r))
		}
	}()
	it, err := s.r.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return s.al.check(prefix, err)
	}
	if start == nil {
		start = prefix
	}
	for ok := it.SeekGE(start); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return errors.Join(s.al.check(it.Key(), err), it.Close())
		}
		inFn = true
		more, err := fn(it.Key(), v)
		inFn = false
		if err != nil || !more {
			return errors.Join(err, s.al.check(prefix, it.Close()))
		}
	}
	return s.al.check(prefix, errors.Join(it.Error(), it.Close()))
}

// Head is a stream's version vector entry: the greatest sequence number
// applied (all below it are applied too), the hash of that op, and its time.
type Head struct {
	Seq  uint64
	Hash [32]byte
	Time crdt.Timestamp
}

func appendHead(dst []byte, h Head) []byte {
	dst = binary.AppendUvarint(dst, h.Seq)
	dst = append(dst, h.Hash[:]...)
	dst = binary.AppendVarint(dst, h.Time.WallMillis)
	return binary.AppendUvarint(dst, uint64(h.Time.Logical))
}

func decodeHead(b []byte) (Head, error) {
	var h Head
	seq, n := binary.Uvarint(b)
	if n <= 0 || len(b) < n+32 {
		return h, errors.New("corrupt head")
	}
	h.Seq = seq
	copy(h.Hash[:], b[n:n+32])
	b = b[n+32:]
	wall, n := binary.Varint(b)
	if n <= 0 {
		return h, errors.New("corrupt head")
	}
	logical, m := binary.Uvarint(b[n:])
	if m <= 0 || n+m != len(b) || logical > 1<<32-1 {
		return h, errors.New("corrupt head")
	}
	h.Time = crdt.Timestamp{WallMillis: wall, Logical: uint32(logical)}
	return h, nil
}

// Stream names one op stream.
type Stream struct{ Dataset, Origin string }

// Heads returns the version vector as read from the store: every stream's
// head, in stream order. dataset "" means every dataset.
func (s reads) Heads(dataset string) (map[Stream]Head, error) {
	prefix := []byte{tableHead}
	if dataset != "" {
		prefix = append(appendParts(nil, tableHead, dataset), sep)
	}
	out := map[Stream]Head{}
	err := s.scan(prefix, nil, func(k, v []byte) (bool, error) {
		st, err := streamOf(k)
		if err != nil {
			return false, s.al.corrupt(describe(k), err)
		}
		h, err := decodeHead(v)
		if err != nil {
			return false, s.al.corrupt(describe(k), err)
		}
		out[st] = h
		return true, nil
	})
	return out, err
}

func streamOf(headKey []byte) (Stream, error) {
	ds, origin, ok := bytes.Cut(headKey[1:], []byte{sep})
	if !ok {
		return Stream{}, fmt.Errorf("malformed head key %q", headKey)
	}
	return Stream{string(ds), string(origin)}, nil
}

// Heads returns the version vector: every stream's head as applied, from
// memory. dataset "" means every dataset. The caller owns the map.
func (s *Store) Heads(dataset string) (map[Stream]Head, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return filterHeads(s.mu.applied, dataset), nil
}

// DurableHeads is Heads as synced to disk: no crash takes back an op at or
// below these heads.
func (s *Store) DurableHeads(dataset string) map[Stream]Head {
	s.mu.Lock()
	defer s.mu.Unlock()
	return filterHeads(s.mu.synced, dataset)
}

func filterHeads(m map[Stream]Head, dataset string) map[Stream]Head {
	out := map[Stream]Head{}
	for st, h := range m {
		if dataset == "" || st.Dataset == dataset {
			out[st] = h
		}
	}
	return out
}

// Op returns op seq of stream (dataset, origin), or ErrNotFound.
func (s reads) Op(dataset, origin string, seq uint64) (*crdt.Op, error) {
	k := opKey(dataset, origin, seq)
	b, err := s.al.get(s.r, k)
	if err != nil {
		return nil, err
	}
	op, err := crdt.DecodeOp(b)
	if err != nil {
		return nil, s.al.corrupt(describe(k), err)
	}
	return op, nil
}

// Change is one entry of the change feed: an op applied to this node, in the
// order it was applied here.
type Change struct {
	Seq     uint64 // position in this node's change feed, from 1
	Dataset string
	Origin  string
	OpSeq   uint64 // the op's position in its stream
	Type    string
	Key     string
}

func appendChange(dst []byte, c Change) []byte {
	for _, s := range []string{c.Dataset, c.Origin, c.Type, c.Key} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return binary.AppendUvarint(dst, c.OpSeq)
}

func decodeChange(seq uint64, b []byte) (Change, error) {
	c := Change{Seq: seq}
	for _, p := range []*string{&c.Dataset, &c.Origin, &c.Type, &c.Key} {
		n, m := binary.Uvarint(b)
		if m <= 0 || uint64(len(b)-m) < n {
			return c, fmt.Errorf("corrupt change %d", seq)
		}
		*p = string(b[m : m+int(n)])
		b = b[m+int(n):]
	}
	opSeq, m := binary.Uvarint(b)
	if m <= 0 || m != len(b) {
		return c, fmt.Errorf("corrupt change %d", seq)
	}
	c.OpSeq = opSeq
	return c, nil
}

// Changes returns up to limit durable changes after since, in apply order.
func (s *Store) Changes(since uint64, limit int) ([]Change, error) {
	durable := s.durable.Load()
	var out []Change
	err := s.scan([]byte{tableChange}, changeKey(since+1), func(k, v []byte) (bool, error) {
		seq := binary.BigEndian.Uint64(k[1:])
		if seq > durable || len(out) == limit {
			return false, nil
		}
		c, err := decodeChange(seq, v)
		if err != nil {
			return false, s.al.corrupt(describe(k), err)
		}
		out = append(out, c)
		return true, nil
	})
	return out, err
}

// Applied returns the change feed position up to which every change is
// applied and visible to reads; Durable follows it once they are synced.
func (s *Store) Applied() uint64 { return s.appliedChange.Load() }

// Durable returns the change feed position up to which every change is synced.
func (s *Store) Durable() uint64 { return s.durable.Load() }

// WaitDurable blocks until the durable position passes since, or ctx ends.
func (s *Store) WaitDurable(ctx context.Context, since uint64) error {
	for {
		s.mu.Lock()
		ch := s.mu.notify
		s.mu.Unlock()
		if s.durable.Load() > since {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closing:
			return ErrClosed
		}
	}
}

// GetLocal returns the node-local value name, or ErrNotFound.
func (s reads) GetLocal(name string) ([]byte, error) { return s.al.get(s.r, localKey(name)) }

// ScanLocal calls fn for every node-local value whose name has prefix, in
// name order. v is valid only during the call.
func (s reads) ScanLocal(prefix string, fn func(name string, v []byte) error) error {
	return s.ScanLocalFrom(prefix, prefix, fn)
}

// ScanLocalFrom is ScanLocal starting at the first name at or after start.
func (s reads) ScanLocalFrom(prefix, start string, fn func(name string, v []byte) error) error {
	return s.scan(localKey(prefix), localKey(start), func(k, v []byte) (bool, error) {
		return true, fn(string(k[1:]), v)
	})
}

// OpRange calls fn with the encoding of each op of stream (dataset, origin)
// from seq from to seq to, in order, until fn returns false. enc is valid
// only during the call.
func (s reads) OpRange(dataset, origin string, from, to uint64, fn func(seq uint64, enc []byte) bool) error {
	prefix := append(appendParts(nil, tableOp, dataset, origin), sep)
	return s.scan(prefix, opKey(dataset, origin, from), func(k, v []byte) (bool, error) {
		seq := binary.BigEndian.Uint64(k[len(prefix):])
		if seq > to {
			return false, nil
		}
		return fn(seq, v), nil
	})
}
