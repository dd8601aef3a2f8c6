package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// pebbleLogEvery is how often at most one message of Pebble's is logged, per
// message format: a disk that fails every write, or a process out of file
// descriptors, makes Pebble repeat one line thousands of times a second.
const pebbleLogEvery = 10 * time.Second

// pebbleLogger sends Pebble's messages to slog, each format at most once per
// pebbleLogEvery; the line after a quiet spell says how many were suppressed.
// Safe for concurrent use.
type pebbleLogger struct {
	l     *slog.Logger
	now   func() time.Time
	fatal func(msg string, args []any) // must not return

	mu   sync.Mutex
	seen map[string]*logSeen // by format; Pebble's formats are constants
}

type logSeen struct {
	last       time.Time
	suppressed int
}

func newPebbleLogger(l *slog.Logger, fatal func(msg string, args []any)) *pebbleLogger {
	return &pebbleLogger{l: l, now: time.Now, fatal: fatal, seen: map[string]*logSeen{}}
}

func (p *pebbleLogger) log(level slog.Level, format string, args ...any) {
	ctx := context.Background()
	if !p.l.Enabled(ctx, level) {
		return
	}
	now := p.now()
	p.mu.Lock()
	s := p.seen[format]
	if s == nil {
		s = &logSeen{}
		p.seen[format] = s
	} else if now.Sub(s.last) < pebbleLogEvery {
		s.suppressed++
		p.mu.Unlock()
		return
	}
	suppressed := s.suppressed
	s.last, s.suppressed = now, 0
	p.mu.Unlock()
	attrs := []any{"component", "pebble"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed)
	}
	p.l.Log(ctx, level, fmt.Sprintf(format, args...), attrs...)
}

// Infof logs at debug: Pebble's informational messages are routine.
func (p *pebbleLogger) Infof(format string, args ...any) { p.log(slog.LevelDebug, format, args...) }

func (p *pebbleLogger) Errorf(format string, args ...any) { p.log(slog.LevelError, format, args...) }

// Fatalf is what Pebble calls when it cannot go on (a broken invariant, a
// MANIFEST it cannot write); it must not return. It logs, never suppressed,
// and hands over to the store (Store.pebbleFatal). Pebble's reports of
// corrupt data do not come here (see Store.eventListener).
func (p *pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error("pebble cannot continue: "+msg, "component", "pebble")
	p.fatal(msg, args)
}

// pebbleFatal handles Pebble's Fatalf. The store fails (every write returns
// the error). Called within a call to the store, it panics with a
// fatalPanic: a read's guard turns it into the read's error, the committer
// hands it to Options.Fatal (see recoverFatal). On one of Pebble's own
// goroutines (a flush, a compaction) nothing can recover: while Open waits
// for Pebble, Open returns the error and the goroutine is parked for good
// (Pebble is abandoned); later it calls Options.Fatal.
func (s *Store) pebbleFatal(msg string, args []any) {
	cause := errors.New("pebble cannot continue: " + msg)
	noSpace := slices.ContainsFunc(args, func(a any) bool { e, ok := a.(error); return ok && isNoSpace(e) })
	err := s.failNoSpace(cause, noSpace)
	if noSpace {
		err = diskFull(s.al.dir, cause)
	}
	if inStorageCall() {
		panic(fatalPanic{cause: cause, err: err})
	}
	select {
	case s.giveUp <- err:
	default:
	}
	if !s.parkFatal.Load() {
		s.onFatal(err)
	}
	select {} // Options.Fatal must not return; if it does, stop here.
}

// fatalPanic is what pebbleFatal panics with: cause for a read's error, err
// for Options.Fatal.
type fatalPanic struct{ cause, err error }

// recoverFatal, deferred by the committer's goroutines, hands a Fatalf of
// Pebble's met there (its commit pipeline broke) to Options.Fatal: no caller
// can take it as an error. Any other panic goes on.
func (s *Store) recoverFatal() {
	r := recover()
	if r == nil {
		return
	}
	f, ok := r.(fatalPanic)
	if !ok {
		panic(r)
	}
	s.onFatal(f.err)
	select {}
}

// storageFuncs prefixes the names of this package's functions.
var storageFuncs = reflect.TypeOf(alarm{}).PkgPath() + "."

// inStorageCall reports whether a function of this package, other than the
// Fatalf handling itself, is on the calling goroutine's stack.
func inStorageCall() bool {
	pcs := make([]uintptr, 128)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(1, pcs)])
	for {
		f, more := frames.Next()
		if name, ok := strings.CutPrefix(f.Function, storageFuncs); ok &&
			!strings.HasPrefix(name, "inStorageCall") && !strings.HasPrefix(name, "(*Store).pebbleFatal") && !strings.HasPrefix(name, "(*pebbleLogger).") {
			return true
		}
		if !more {
			return false
		}
	}
}

// exitOnFatal is the default Options.Fatal: log and exit, as Pebble's own
// default logger does.
func exitOnFatal(l *slog.Logger) func(error) {
	return func(err error) {
		l.Error(err.Error())
		os.Exit(1)
	}
}
