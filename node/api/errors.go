package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/lienthong/lienthong/node/backup"
	"github.com/lienthong/lienthong/node/control"
	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
	"github.com/lienthong/lienthong/storage"
)

// ErrorBody is the JSON of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail says what went wrong. Code is stable for scripts; Message is
// for people and says what to do; Field and Rule name the failed check of a
// validation error; Index is the failed record of a batch.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"`
	Index   *int   `json:"index,omitempty"`
}

func writeError(w http.ResponseWriter, status int, code, msg, field, rule string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg, Field: field, Rule: rule}})
}

// classify maps an error to its status and error detail.
func classify(err error) (int, ErrorDetail) {
	d := ErrorDetail{Message: err.Error()}
	var de *dict.Error
	if errors.As(err, &de) {
		d.Field, d.Rule, d.Message = de.Field, de.Rule, de.Message
	}
	var be *data.BatchError
	if errors.As(err, &be) {
		d.Index = &be.Index
	}
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var xe *dict.TextError
	switch {
	case errors.As(err, &mbe):
		d.Code, d.Message = "too_large", fmt.Sprintf("request body larger than %d bytes; split it (lienthong import batches for you)", mbe.Limit)
		return http.StatusRequestEntityTooLarge, d
	case errors.As(err, &se):
		d.Code, d.Message = "bad_json", fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
		return http.StatusBadRequest, d
	case errors.As(err, &xe):
		d.Code, d.Message = "bad_json", xe.Error()
		return http.StatusBadRequest, d
	case errors.As(err, &te):
		d.Code, d.Message = "bad_json", fmt.Sprintf("JSON value at byte %d: %v", te.Offset, err)
		return http.StatusBadRequest, d
	case errors.Is(err, errBadRequest):
		d.Code = "bad_request"
		return http.StatusBadRequest, d
	case errors.Is(err, data.ErrNotFound), errors.Is(err, meta.ErrNotFound):
		d.Code = "not_found"
		return http.StatusNotFound, d
	case errors.Is(err, data.ErrPrecondition):
		d.Code = "precondition_failed"
		return http.StatusPreconditionFailed, d
	case errors.Is(err, data.ErrNotOwner):
		d.Code = "not_owner"
		return http.StatusForbidden, d
	case errors.Is(err, meta.ErrForbidden):
		d.Code = "forbidden"
		return http.StatusForbidden, d
	case de != nil, errors.Is(err, data.ErrInvalid), errors.Is(err, meta.ErrInvalid), errors.Is(err, dict.ErrInvalid), errors.Is(err, backup.ErrInvalid):
		d.Code = "invalid"
		return http.StatusBadRequest, d
	case errors.Is(err, ErrTokenUnknown):
		d.Code = "not_found"
		return http.StatusNotFound, d
	case errors.Is(err, ErrTokenExists), errors.Is(err, meta.ErrConflict):
		d.Code = "conflict"
		return http.StatusConflict, d
	case errors.Is(err, data.ErrHeld):
		d.Code = "unavailable"
		return http.StatusServiceUnavailable, d
	case errors.Is(err, control.ErrNoQuorum):
		d.Code = "no_quorum"
		return http.StatusServiceUnavailable, d
	case errors.Is(err, storage.ErrCorrupt):
		// Not "internal": the message says what is damaged and what to do
		// (docs/operations.md, "Damaged storage"); the node serves the rest.
		d.Code = "corrupt"
		return http.StatusInternalServerError, d
	case errors.Is(err, storage.ErrFailed), errors.Is(err, storage.ErrClosed):
		d.Code = "unavailable"
		return http.StatusServiceUnavailable, d
	}
	d.Code, d.Message = "internal", "internal error: "+err.Error()
	return http.StatusInternalServerError, d
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, d := classify(err)
	// Retry-After only where nothing was done and waiting helps: a write
	// hold says how long it may last. A no_quorum answer has none: the
	// change may have committed without this node seeing it apply.
	var held *data.HeldError
	if errors.As(err, &held) {
		w.Header().Set("Retry-After", strconv.Itoa(int((held.RetryAfter+time.Second-1)/time.Second)))
	}
	var pre *data.PreconditionError
	if errors.As(err, &pre) && pre.Current != "" && !errors.As(err, new(*data.BatchError)) {
		w.Header().Set("ETag", quoteETag(pre.Current))
	}
	if status >= 500 && status != http.StatusServiceUnavailable {
		s.cfg.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeJSON(w, status, ErrorBody{Error: d})
}

var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}
