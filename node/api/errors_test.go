package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/lienthong/lienthong/node/control"
	"github.com/lienthong/lienthong/node/data"
)

// TestRetryAfter: a 503 says when to retry only where nothing was done and
// waiting helps. A write hold gives the time it may still last, rounded up;
// no_quorum gives none, since the change may have committed unseen.
func TestRetryAfter(t *testing.T) {
	s := &server{cfg: Config{Logger: slog.New(slog.DiscardHandler)}}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&data.HeldError{Reason: "checking", RetryAfter: 2100 * time.Millisecond}, "3"},
		{fmt.Errorf("put: %w", &data.HeldError{Reason: "checking", RetryAfter: time.Millisecond}), "1"},
		{&data.HeldError{Reason: "checking", RetryAfter: 15 * time.Second}, "15"},
		{fmt.Errorf("%w: unreachable seeds: s2", control.ErrNoQuorum), ""},
	} {
		rec := httptest.NewRecorder()
		s.fail(rec, httptest.NewRequest("PUT", "/v1/x", nil), tc.err)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != tc.want {
			t.Errorf("%v: %d Retry-After %q, want 503 %q", tc.err, rec.Code, rec.Header().Get("Retry-After"), tc.want)
		}
	}
}
