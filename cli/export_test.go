package cli

import (
	"net/http"
	"time"
)

// RetryingClient is the CLI's HTTP client (retries after 503) for the
// external tests' own requests.
func RetryingClient(timeout, maxWait time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: retryUnavailable{next: http.DefaultTransport, maxWait: maxWait}}
}
