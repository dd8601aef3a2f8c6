package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPebbleLogRateLimit: a message Pebble repeats is logged once per
// pebbleLogEvery, and the next line says how many were suppressed (a node
// out of file descriptors logged 565,000 lines).
func TestPebbleLogRateLimit(t *testing.T) {
	var buf bytes.Buffer
	now := time.Unix(0, 0)
	p := newPebbleLogger(slog.New(slog.NewTextHandler(&buf, nil)), nil)
	p.now = func() time.Time { return now }
	for i := range 1000 {
		p.Errorf("background error: %s", fmt.Sprint("too many open files ", i))
		p.Errorf("other: %d", i)
		now = now.Add(time.Millisecond)
	}
	if got := strings.Count(buf.String(), "\n"); got != 2 {
		t.Fatalf("%d lines for two messages repeated 1000 times in 1 s, want 2:\n%s", got, buf.String())
	}
	buf.Reset()
	now = now.Add(pebbleLogEvery)
	p.Errorf("background error: %s", "too many open files")
	if s := buf.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "suppressed=999") {
		t.Fatalf("after the quiet spell: %q, want one line with suppressed=999", s)
	}
}

// fatalReader is a real store's reader whose Get runs into Pebble's Fatalf,
// as Pebble's iterators do on a broken invariant.
type fatalReader struct {
	pebble.Reader
	log *pebbleLogger
}

func (r fatalReader) Get(key []byte) ([]byte, io.Closer, error) {
	r.log.Fatalf("levelIter: lower bound violation: %s", key)
	return nil, nil, nil
}

// TestPebbleFatal: Pebble's Fatalf within a read is that read's ErrCorrupt
// (it was a panic that crashed the node); on Pebble's own goroutine it is
// Options.Fatal's, wrapping ErrDiskFull when the disk is full. Either way
// the store refuses writes from then on.
func TestPebbleFatal(t *testing.T) {
	t.Run("in a commit", func(t *testing.T) {
		// The committer is parked for good by the hook: the store is
		// left open.
		fatal := make(chan error, 1)
		s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), Fatal: func(err error) { fatal <- err; select {} }})
		if err != nil {
			t.Fatal(err)
		}
		log := newPebbleLogger(slog.New(slog.DiscardHandler), s.pebbleFatal)
		go s.Update(t.Context(), func(*Txn) error {
			log.Fatalf("pebble: fatal commit error: %v", errors.New("horked"))
			return nil
		})
		select {
		case err := <-fatal:
			if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "fatal commit error: horked") {
				t.Fatalf("Options.Fatal got %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Options.Fatal not called for a Fatalf on the committer")
		}
	})
	for _, bg := range []bool{false, true} {
		t.Run(map[bool]string{false: "in a read", true: "in the background"}[bg], func(t *testing.T) {
			fatal := make(chan error, 1)
			s, err := Open(Options{Dir: "db", FS: vfs.NewMem(), Fatal: func(err error) { fatal <- err; select {} }})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			log := newPebbleLogger(slog.New(slog.DiscardHandler), s.pebbleFatal)
			if bg {
				go log.Fatalf("MANIFEST create failed: %v", syscall.ENOSPC)
				select {
				case err := <-fatal:
					wantDiskFull(t, err, "no space left")
				case <-time.After(10 * time.Second):
					t.Fatal("Options.Fatal not called")
				}
			} else {
				_, err := s.al.get(fatalReader{s.db, log}, localKey("x"))
				wantCorrupt(t, "read", err, "lower bound violation")
				select {
				case err := <-fatal:
					t.Fatalf("Options.Fatal called for a read's Fatalf: %v", err)
				default:
				}
			}
			if err := s.Update(t.Context(), func(tx *Txn) error { tx.PutLocal("y", []byte("1")); return nil }); !errors.Is(err, ErrFailed) {
				t.Fatalf("write after Pebble's Fatalf: %v, want ErrFailed", err)
			}
		})
	}
}
