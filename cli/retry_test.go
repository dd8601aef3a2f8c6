package cli

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestRetryUnavailable(t *testing.T) {
	var calls atomic.Int32
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	hc := &http.Client{Transport: retryUnavailable{next: http.DefaultTransport, maxWait: time.Second}}
	resp, err := hc.Post(srv.URL, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || resp.StatusCode != 200 || calls.Load() != 3 {
		t.Fatalf("got %v %v after %d calls, want 200 after 3", resp, err, calls.Load())
	}
	for _, b := range bodies {
		if b != `{"a":1}` {
			t.Fatalf("a retry sent body %q", b)
		}
	}
	// Always unavailable: it gives up after maxWait and returns the 503.
	calls.Store(-1000)
	hc.Transport = retryUnavailable{next: http.DefaultTransport, maxWait: 300 * time.Millisecond}
	resp, err = hc.Get(srv.URL)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("got %v %v, want the 503 once the wait is spent", resp, err)
	}
	if n := calls.Load() + 1000; n < 2 || n > 5 {
		t.Fatalf("%d calls in 300ms of 100ms waits", n)
	}
}
