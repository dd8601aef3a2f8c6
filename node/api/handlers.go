package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/lienthong/lienthong/node/data"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
)

// decodeBody reads exactly one JSON value of the request body into v.
func decodeBody(r *http.Request, v any, strict bool) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return badRequest("empty body: send a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return err // its offset is in the body
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &dict.TextError{Offset: len(b), Message: "malformed JSON: the body ends inside a value", Hint: "send the whole value"}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return err
		}
		return badRequest("%v", err)
	}
	if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
		return badRequest("trailing data after the JSON value at byte %d", dec.InputOffset())
	}
	return dict.CheckText(b)
}

func (s *server) write(mode data.Mode) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		wr := data.Write{Dataset: r.PathValue("dataset"), Key: r.PathValue("key"), Mode: mode, WantETag: true, WantCreated: true}
		var err error
		if wr.IfMatch, err = parseETags("If-Match", r.Header.Values("If-Match"), false); err != nil {
			s.fail(w, r, err)
			return
		}
		if wr.IfNoneMatch, err = parseETags("If-None-Match", r.Header.Values("If-None-Match"), true); err != nil {
			s.fail(w, r, err)
			return
		}
		if mode != data.Delete {
			if err := decodeFields(r, &wr.Fields); err != nil {
				s.fail(w, r, err)
				return
			}
		}
		start := time.Now()
		res, err := s.cfg.Engine.Write(r.Context(), wr)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.writeDuration.WithLabelValues(mode.String()).Observe(time.Since(start).Seconds())
		if res.ETag != "" {
			w.Header().Set("ETag", quoteETag(res.ETag))
		}
		writeJSON(w, createdOr200(res.Created), res)
	}
}

// createdOr200 is 201 Created for a request that made something new, else
// 200. For metadata it is judged against the view before the proposal: two
// racing creates may both hear 201.
func createdOr200(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func decodeFields(r *http.Request, fields *map[string]json.RawMessage) error {
	var raw json.RawMessage
	if err := decodeBody(r, &raw, false); err != nil {
		return err
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return badRequest("the body must be a JSON object of fields, e.g. {\"full_name\":\"Nguyễn Văn An\"}")
	}
	return json.Unmarshal(raw, fields)
}

// BatchRequest is the body of POST /v1/datasets/{dataset}/batch.
type BatchRequest struct {
	// Mode is "put" (default) or "patch".
	Mode    string        `json:"mode,omitempty"`
	Records []BatchRecord `json:"records"`
	// Partial writes the valid records and reports the others; otherwise the
	// first invalid record fails the batch and nothing is written.
	Partial bool `json:"partial,omitempty"`
}

// BatchRecord is one record of a batch, and one line of import/export JSONL.
type BatchRecord struct {
	Key    string                     `json:"key"`
	Fields map[string]json.RawMessage `json:"fields"`
	// IfMatch makes the record's write conditional, as the If-Match header
	// does a single write's: "*" or the quoted ETag of a read. A record
	// whose condition fails is refused with precondition_failed.
	IfMatch string `json:"if_match,omitempty"`
}

// BatchResponse is the answer to a batch write.
type BatchResponse struct {
	Written int           `json:"written"`
	Rejects []BatchReject `json:"rejects,omitempty"`
}

// BatchReject is a record that partial mode did not write.
type BatchReject struct {
	Index int         `json:"index"`
	Error ErrorDetail `json:"error"`
}

func (s *server) batch(w http.ResponseWriter, r *http.Request) {
	var req BatchRequest
	if err := decodeBody(r, &req, true); err != nil {
		s.fail(w, r, err)
		return
	}
	mode := data.Put
	switch req.Mode {
	case "", "put":
	case "patch":
		mode = data.Patch
	default:
		s.fail(w, r, badRequest("mode %q: want put or patch", req.Mode))
		return
	}
	if len(req.Records) > MaxBatchRecords {
		s.fail(w, r, badRequest("%d records in one batch; send at most %d", len(req.Records), MaxBatchRecords))
		return
	}
	ws := make([]data.Write, len(req.Records))
	for i, rec := range req.Records {
		ws[i] = data.Write{Dataset: r.PathValue("dataset"), Key: rec.Key, Mode: mode, Fields: rec.Fields}
		if rec.IfMatch == "" {
			continue
		}
		var err error
		if ws[i].IfMatch, err = parseETags(fmt.Sprintf("records[%d].if_match", i), []string{rec.IfMatch}, false); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	start := time.Now()
	res, rejects, err := s.cfg.Engine.WriteBatch(r.Context(), ws, req.Partial)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeDuration.WithLabelValues("batch").Observe(time.Since(start).Seconds())
	out := BatchResponse{Written: len(res)}
	for _, rj := range rejects {
		_, d := classify(rj.Err)
		out.Rejects = append(out.Rejects, BatchReject{Index: rj.Index, Error: d})
	}
	writeJSON(w, http.StatusOK, out)
}

// queryInt reads a non-negative integer query parameter.
func queryInt(r *http.Request, name string, def, max uint64) (uint64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, badRequest("query parameter %s=%q: want a non-negative integer", name, s)
	}
	if max > 0 && n > max {
		return 0, badRequest("query parameter %s=%d: at most %d", name, n, max)
	}
	return n, nil
}

func (s *server) getEntity(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	if s.cfg.Meta.View().Type(typ) == nil {
		s.fail(w, r, fmt.Errorf("%w: entity type %q does not exist", meta.ErrNotFound, typ))
		return
	}
	ent, err := s.cfg.Engine.Get(typ, r.PathValue("key"), r.URL.Query().Get("provenance") == "true")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("ETag", quoteETag(ent.ETag))
	writeJSON(w, http.StatusOK, ent)
}

// Page is a page of a listing; Next is the value of after for the next page,
// empty at the end.
type Page[T any] struct {
	Items []T    `json:"items"`
	Next  string `json:"next,omitempty"`
}

func (s *server) listEntities(w http.ResponseWriter, r *http.Request) {
	typ := r.PathValue("type")
	if s.cfg.Meta.View().Type(typ) == nil {
		s.fail(w, r, fmt.Errorf("%w: entity type %q does not exist", meta.ErrNotFound, typ))
		return
	}
	limit, err := queryInt(r, "limit", 100, 10_000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ents, next, err := s.cfg.Engine.List(typ, r.URL.Query().Get("after"), int(max(limit, 1)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ents == nil {
		ents = []*data.Entity{}
	}
	writeJSON(w, http.StatusOK, Page[*data.Entity]{Items: ents, Next: next})
}

func (s *server) exportDataset(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", 1000, 10_000)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	recs, next, err := s.cfg.Engine.Export(r.PathValue("dataset"), r.URL.Query().Get("after"), int(max(limit, 1)))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	items := make([]BatchRecord, len(recs))
	for i, rec := range recs {
		items[i] = BatchRecord{Key: rec.Key, Fields: rec.Fields}
	}
	writeJSON(w, http.StatusOK, Page[BatchRecord]{Items: items, Next: next})
}

// ChangesPage is the answer to GET /v1/changes.
type ChangesPage struct {
	Changes []data.ChangeView `json:"changes"`
	// Next is the cursor to pass as since to continue: the last change
	// looked at, which a filter may have left out.
	Next uint64 `json:"next"`
	// More is true when the feed may hold changes after Next (false: it
	// held none when this page was read).
	More bool `json:"more"`
}

// maxScanned bounds the changes one filtered page looks at, so a filter
// that matches little cannot make one request read the whole feed.
const maxScanned = 100_000

// changeFilter keeps the changes of one dataset and/or one entity type;
// the zero value keeps every change.
type changeFilter struct{ dataset, typ string }

func (f changeFilter) keep(c data.ChangeView) bool {
	return (f.dataset == "" || c.Dataset == f.dataset) && (f.typ == "" || c.Type == f.typ)
}

// parseChangeFilter reads ?dataset= and ?type=, which must name a dataset
// and an entity type that exist: a misspelt filter would match nothing,
// for ever, in silence.
func (s *server) parseChangeFilter(r *http.Request) (changeFilter, error) {
	f := changeFilter{dataset: r.URL.Query().Get("dataset"), typ: r.URL.Query().Get("type")}
	v := s.cfg.Meta.View()
	if f.dataset != "" && v.Dataset(f.dataset) == nil {
		return f, fmt.Errorf("%w: dataset %q does not exist (lienthong dataset list shows the datasets)", meta.ErrNotFound, f.dataset)
	}
	if f.typ != "" && v.Type(f.typ) == nil {
		return f, fmt.Errorf("%w: entity type %q does not exist (lienthong schema list shows them)", meta.ErrNotFound, f.typ)
	}
	return f, nil
}

// filteredChanges returns up to limit changes after since that f keeps,
// the cursor of the last change looked at, and whether the feed holds more.
func (s *server) filteredChanges(since uint64, limit int, f changeFilter) (out []data.ChangeView, next uint64, more bool, err error) {
	next = since
	for scanned := 0; len(out) < limit && scanned < maxScanned; {
		cs, err := s.cfg.Engine.Changes(next, limit)
		if err != nil {
			return nil, 0, false, err
		}
		for i, c := range cs {
			if f.keep(c) {
				out = append(out, c)
			}
			next = c.Cursor
			if len(out) == limit {
				return out, next, i < len(cs)-1 || len(cs) == limit, nil
			}
		}
		if len(cs) < limit {
			return out, next, false, nil
		}
		scanned += len(cs)
	}
	return out, next, true, nil
}

func (s *server) changes(w http.ResponseWriter, r *http.Request) {
	since, err := queryInt(r, "since", 0, 0)
	if err == nil && r.Header.Get("Last-Event-ID") != "" {
		since, err = strconv.ParseUint(r.Header.Get("Last-Event-ID"), 10, 64)
		if err != nil {
			err = badRequest("Last-Event-ID %q: want a cursor", r.Header.Get("Last-Event-ID"))
		}
	}
	var limit uint64
	if err == nil {
		limit, err = queryInt(r, "limit", 1000, 10_000)
	}
	var f changeFilter
	if err == nil {
		f, err = s.parseChangeFilter(r)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	limit = max(limit, 1)
	if wantsEvents(r) {
		s.followChanges(w, r, since, int(limit), f)
		return
	}
	cs, next, more, err := s.filteredChanges(since, int(limit), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if cs == nil {
		cs = []data.ChangeView{}
	}
	writeJSON(w, http.StatusOK, ChangesPage{Changes: cs, Next: next, More: more})
}

func wantsEvents(r *http.Request) bool {
	for _, a := range r.Header.Values("Accept") {
		if bytes.Contains([]byte(a), []byte("text/event-stream")) {
			return true
		}
	}
	return false
}

// followChanges streams the changes f keeps as server-sent events until the
// client goes. Each event's id is its cursor: a client that reconnects with
// Last-Event-ID resumes after it.
func (s *server) followChanges(w http.ResponseWriter, r *http.Request, since uint64, limit int, f changeFilter) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		s.fail(w, r, errors.New("streaming unsupported by this connection"))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()
	ctx := r.Context()
	for {
		cs, next, more, err := s.filteredChanges(since, limit, f)
		if err != nil {
			fmt.Fprintf(w, "event: error\ndata: %q\n\n", err.Error())
			flusher.Flush()
			return
		}
		for _, c := range cs {
			b, _ := json.Marshal(c)
			fmt.Fprintf(w, "id: %d\nevent: change\ndata: %s\n\n", c.Cursor, b)
		}
		since = next
		if len(cs) > 0 {
			flusher.Flush()
		}
		if more {
			continue
		}
		wait, cancel := context.WithTimeout(ctx, 15*time.Second)
		err = s.cfg.Engine.WaitChanges(wait, since)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return
		}
		if err != nil { // keep-alive through proxies
			fmt.Fprint(w, ": keep-alive\n\n")
			flusher.Flush()
		}
	}
}

func (s *server) listSchemas(w http.ResponseWriter, r *http.Request) {
	out := []*dict.EntityType{}
	for _, t := range s.cfg.Meta.View().Types() {
		out = append(out, t.EntityType)
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "meta_index": s.cfg.Meta.View().Index})
}

func (s *server) getSchema(w http.ResponseWriter, r *http.Request) {
	t := s.cfg.Meta.View().Type(r.PathValue("type"))
	if t == nil {
		s.fail(w, r, fmt.Errorf("%w: entity type %q does not exist (lienthong schema list shows them)", meta.ErrNotFound, r.PathValue("type")))
		return
	}
	writeJSON(w, http.StatusOK, t.EntityType)
}

func (s *server) putSchema(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := dict.ParseEntityType(b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if t.Name != r.PathValue("type") {
		s.fail(w, r, badRequest("the schema is named %q but the URL says %q", t.Name, r.PathValue("type")))
		return
	}
	isNew := s.cfg.Meta.View().Type(t.Name) == nil
	v, err := s.cfg.Meta.Propose(r.Context(), meta.Command{Op: meta.OpPutType, Type: t})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, createdOr200(isNew), map[string]any{"name": t.Name, "version": t.Version, "meta_index": v.Index})
}

func (s *server) listDatasets(w http.ResponseWriter, r *http.Request) {
	out := []*dict.Dataset{}
	out = append(out, s.cfg.Meta.View().Datasets()...)
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "meta_index": s.cfg.Meta.View().Index})
}

func (s *server) getDataset(w http.ResponseWriter, r *http.Request) {
	if !s.consistent(w, r) {
		return
	}
	d := s.cfg.Meta.View().Dataset(r.PathValue("name"))
	if d == nil {
		s.fail(w, r, fmt.Errorf("%w: dataset %q does not exist (lienthong dataset list shows them)", meta.ErrNotFound, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *server) putDataset(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := dict.ParseDataset(b)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Name != r.PathValue("name") {
		s.fail(w, r, badRequest("the dataset is named %q but the URL says %q", d.Name, r.PathValue("name")))
		return
	}
	isNew := s.cfg.Meta.View().Dataset(d.Name) == nil
	v, err := s.cfg.Meta.Propose(r.Context(), meta.Command{Op: meta.OpPutDataset, Dataset: d})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, createdOr200(isNew), map[string]any{"dataset": v.Dataset(d.Name), "meta_index": v.Index})
}
