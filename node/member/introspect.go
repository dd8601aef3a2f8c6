package member

import (
	"fmt"
	"net"
	"reflect"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/hashicorp/memberlist"
)

// Why this file exists: memberlist v0.7.0 keeps each node's state (alive,
// suspect, dead, left) and the time it changed in an unexported table, and
// exposes neither: Members() hides dead and left nodes and reports every
// node's Node.State as alive (the exported field is shadowed by
// nodeState.State and never written), no delegate is told about suspicion,
// and NotifyLeave cannot tell a failure from a graceful leave. The operator
// view ("member list", the status endpoint) needs all of that.
//
// stateView reads memberlist's table directly, under memberlist's own read
// lock, so the race detector and memberlist agree on the locking. It never
// writes. newStateView checks the layout it relies on by name and type, and
// fails (rather than misreading memory) when a memberlist upgrade changes it;
// List then falls back to what the event delegate reports (alive, dead; no
// suspect, no left). TestStateViewAvailable fails loudly in that case.

// stateView is a read-only window on one Memberlist's node table.
type stateView struct {
	lock    *sync.RWMutex // &Memberlist.nodeLock
	nodeMap reflect.Value // Memberlist.nodeMap: map[string]*nodeState, readable
	nodeIdx []int         // nodeState.Node (embedded memberlist.Node)
	stIdx   []int         // nodeState.State (the live one)
	sinceIx []int         // nodeState.StateChange
}

// observation is one node as memberlist sees it at one instant.
type observation struct {
	name  string
	addr  string // host:port
	state State
	since time.Time
	meta  []byte // owned by the observation
}

// newStateView checks that ml has the layout this file reads and returns a
// view on it, or an error saying what changed.
func newStateView(ml *memberlist.Memberlist) (*stateView, error) {
	mv := reflect.ValueOf(ml).Elem()
	lockF := mv.FieldByName("nodeLock")
	if !lockF.IsValid() || lockF.Type() != reflect.TypeFor[sync.RWMutex]() {
		return nil, fmt.Errorf("member: memberlist.Memberlist.nodeLock is not a sync.RWMutex")
	}
	mapF := mv.FieldByName("nodeMap")
	if !mapF.IsValid() || mapF.Kind() != reflect.Map || mapF.Type().Key().Kind() != reflect.String ||
		mapF.Type().Elem().Kind() != reflect.Pointer || mapF.Type().Elem().Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("member: memberlist.Memberlist.nodeMap is not a map[string]*struct")
	}
	st := mapF.Type().Elem().Elem()
	field := func(name string, want reflect.Type) ([]int, error) {
		f, ok := st.FieldByName(name)
		if !ok || f.Type != want || len(f.Index) != 1 {
			return nil, fmt.Errorf("member: memberlist %s.%s is not a direct field of type %s", st.Name(), name, want)
		}
		return f.Index, nil
	}
	v := &stateView{
		lock: (*sync.RWMutex)(unsafe.Pointer(lockF.UnsafeAddr())),
		// NewAt yields a value without the read-only flag that reflect puts
		// on unexported fields, so its map entries can be read.
		nodeMap: reflect.NewAt(mapF.Type(), unsafe.Pointer(mapF.UnsafeAddr())).Elem(),
	}
	var err error
	if v.nodeIdx, err = field("Node", reflect.TypeFor[memberlist.Node]()); err != nil {
		return nil, err
	}
	if v.stIdx, err = field("State", reflect.TypeFor[memberlist.NodeStateType]()); err != nil {
		return nil, err
	}
	if v.sinceIx, err = field("StateChange", reflect.TypeFor[time.Time]()); err != nil {
		return nil, err
	}
	return v, nil
}

// snapshot returns every node in memberlist's table, including dead and left
// ones not yet reaped. It takes memberlist's node read lock, so it must not be
// called from a memberlist delegate (memberlist holds the write lock there).
func (v *stateView) snapshot() []observation {
	v.lock.RLock()
	defer v.lock.RUnlock()
	out := make([]observation, 0, v.nodeMap.Len())
	it := v.nodeMap.MapRange()
	for it.Next() {
		ns := it.Value().Elem()
		n := ns.FieldByIndex(v.nodeIdx).Interface().(memberlist.Node)
		out = append(out, observation{
			name:  n.Name,
			addr:  net.JoinHostPort(n.Addr.String(), strconv.Itoa(int(n.Port))),
			state: stateOf(memberlist.NodeStateType(ns.FieldByIndex(v.stIdx).Int())),
			since: ns.FieldByIndex(v.sinceIx).Interface().(time.Time),
			meta:  append([]byte(nil), n.Meta...),
		})
	}
	return out
}

func stateOf(s memberlist.NodeStateType) State {
	switch s {
	case memberlist.StateAlive:
		return StateAlive
	case memberlist.StateSuspect:
		return StateSuspect
	case memberlist.StateDead:
		return StateDead
	case memberlist.StateLeft:
		return StateLeft
	default:
		return State(fmt.Sprintf("unknown(%d)", int(s)))
	}
}
