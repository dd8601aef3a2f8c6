package cli

import (
	"crypto/tls"
	"net/http"
	"strconv"
	"time"
)

// retryUnavailable is an http.RoundTripper that sends a request again after
// a 503 with Retry-After, for up to maxWait in all. A node sends Retry-After
// only for what it did not do (writes held while an owner checks its
// streams at start, too many connections), so such a request is safe to
// repeat, including a non-idempotent PATCH; a 503 without it (no_quorum,
// whose change may have committed, or a failed store) is returned as it is.
// Requests whose body cannot be rewound are not retried.
type retryUnavailable struct {
	next    http.RoundTripper
	maxWait time.Duration
}

func (t retryUnavailable) RoundTrip(req *http.Request) (*http.Response, error) {
	waited := time.Duration(0)
	for {
		resp, err := t.next.RoundTrip(req)
		if err != nil || resp.StatusCode != http.StatusServiceUnavailable || req.Body != nil && req.GetBody == nil {
			return resp, err
		}
		secs, perr := strconv.Atoi(resp.Header.Get("Retry-After"))
		wait := max(time.Duration(secs)*time.Second, 100*time.Millisecond)
		if perr != nil || secs < 0 || waited+wait > t.maxWait {
			return resp, nil
		}
		resp.Body.Close()
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
		waited += wait
		if req.GetBody != nil {
			if req.Body, err = req.GetBody(); err != nil {
				return nil, err
			}
		}
	}
}

// newHTTPClient is the client of the CLI's commands: a timeout per request
// (zero: none) and retries after 503.
func newHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: retryUnavailable{next: http.DefaultTransport, maxWait: 30 * time.Second}}
}

// newHTTPClientTLS is newHTTPClient verifying servers with tc.
func newHTTPClientTLS(timeout time.Duration, tc *tls.Config) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &http.Client{Timeout: timeout, Transport: retryUnavailable{next: t, maxWait: 30 * time.Second}}
}
