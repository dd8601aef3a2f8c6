package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lienthong/lienthong/node/api"
	"github.com/lienthong/lienthong/node/dict"
)

func init() {
	register(&command{
		name:  "import",
		args:  "DATASET FILE",
		short: "write the records of a JSONL or CSV file (- for stdin) into a dataset, in batches",
		run:   runImport,
	})
}

// Limits of import.
const (
	// importMaxLineBytes caps one input line (one record): the node's default
	// request body cap, which no single record can exceed anyway.
	importMaxLineBytes = 16 << 20
	// importMaxBatchBytes ends a batch early once its records hold this many
	// bytes of input, well under the node's default body cap of 16 MiB. A
	// node with a smaller cap answers 413; import then halves the batch.
	importMaxBatchBytes = 4 << 20
	// importProgressEvery is the least time between two progress lines.
	importProgressEvery = 200 * time.Millisecond
)

type importOptions struct {
	clientFlags
	format    string
	rejects   string
	mode      string
	batch     int
	dropOther bool
}

func runImport(ctx context.Context, std *IO, args []string) error {
	var o importOptions
	fs := newFlags(std, "import", "DATASET FILE")
	o.clientFlags.register(fs)
	fs.StringVar(&o.format, "format", "", "input format: jsonl ({\"key\":...,\"fields\":{...}} per line) or csv (header key,FIELD,...); default csv for a .csv FILE, else jsonl")
	fs.StringVar(&o.rejects, "rejects", "", "append the records the node refuses (and unparsable lines) to this JSONL file and go on, instead of stopping at the first")
	fs.StringVar(&o.mode, "mode", "put", "put (replace each record's fields in the dataset) or patch (change only the fields given)")
	fs.IntVar(&o.batch, "batch", 1000, fmt.Sprintf("records per request, 1 to %d", api.MaxBatchRecords))
	fs.BoolVar(&o.dropOther, "drop-other-fields", false, "drop the fields the dataset does not cover (e.g. to load one generated citizen file into several datasets)")
	fs.Usage = func() {
		fmt.Fprint(std.Out, `usage: lienthong import DATASET FILE [flags]

Writes the records of FILE ("-" for stdin) into DATASET through the node's
batch API. JSONL lines are {"key":"...","fields":{...}}, as gen and export
write them; blank lines are skipped. A CSV file starts with the header
key,FIELD,...; each cell is converted by its field's type (an empty cell
leaves the field out; a set's elements are separated by "|"; an object cell
is raw JSON).

Without --rejects the import stops at the first bad record, after writing
every record before it, and exits with 3 (1 for a line that does not parse).
With --rejects FILE each refused record is appended to FILE as
{"line":N,"key":...,"error":{...},"record":{...}} and the import goes on; it
exits with 0 even if every record was refused, so check the count it prints
(or --json). jq -c .record FILE gives the refused records back as JSONL.

Flags:
`)
		printFlags(std.Out, fs)
	}
	pos, err := parseFlags(fs, args, 2, 2)
	if err != nil {
		return err
	}
	dataset, file := pos[0], pos[1]
	if o.format == "" {
		o.format = "jsonl"
		if strings.HasSuffix(strings.ToLower(file), ".csv") {
			o.format = "csv"
		}
	}
	if o.format != "jsonl" && o.format != "csv" {
		return usagef("--format %q: want jsonl or csv", o.format)
	}
	if o.mode != "put" && o.mode != "patch" {
		return usagef("--mode %q: want put or patch", o.mode)
	}
	if o.batch < 1 || o.batch > api.MaxBatchRecords {
		return usagef("--batch %d: want 1 to %d", o.batch, api.MaxBatchRecords)
	}
	c, err := o.client(std)
	if err != nil {
		return err
	}

	var ds dict.Dataset
	if err := c.do(ctx, http.MethodGet, "/v1/datasets/"+url.PathEscape(dataset), nil, &ds); err != nil {
		return fmt.Errorf("dataset %s: %w", dataset, err)
	}

	var in io.Reader = std.In
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	var keep func(string) bool
	if o.dropOther {
		keep = ds.Covers
	}
	var src recordSource
	switch o.format {
	case "jsonl":
		src = &jsonlSource{br: bufio.NewReaderSize(in, 256<<10), keep: keep}
	case "csv":
		var typ dict.EntityType
		if err := c.do(ctx, http.MethodGet, "/v1/schemas/"+url.PathEscape(ds.EntityType), nil, &typ); err != nil {
			return fmt.Errorf("entity type %s of dataset %s: %w", ds.EntityType, dataset, err)
		}
		if src, err = newCSVSource(in, &typ, &ds, o.dropOther); err != nil {
			return err
		}
	}

	im := &importer{
		c: c, std: std, opts: &o, dataset: dataset,
		path:     "/v1/datasets/" + url.PathEscape(dataset) + "/batch",
		start:    time.Now(),
		progress: isCharDevice(std.Err),
	}
	if o.rejects != "" {
		f, err := os.OpenFile(o.rejects, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("open the rejects file: %w", err)
		}
		defer f.Close()
		im.rejectsFile = f
		im.rejectsOut = bufio.NewWriter(f)
	}
	runErr := im.run(ctx, src, in == std.In && std.In == os.Stdin)
	if im.rejectsOut != nil {
		if err := im.rejectsOut.Flush(); err != nil && runErr == nil {
			runErr = fmt.Errorf("write the rejects file: %w", err)
		}
		if err := im.rejectsFile.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("write the rejects file: %w", err)
		}
	}
	im.summary(runErr)
	return runErr
}

// importRecord is one parsed record waiting to be sent.
type importRecord struct {
	line int // 1-based line of the file where the record starts
	rec  api.BatchRecord
	size int // bytes of input, to bound the size of a batch
}

// importLineError is a record of the input that cannot be parsed. Reading may go
// on after it.
type importLineError struct {
	line   int
	col    int    // 1-based CSV column, 0 if none
	column string // CSV column name
	code   string // error code in the rejects file, like the node's
	msg    string
	text   string // the line as read, for the rejects file
}

func (e *importLineError) Error() string {
	if e.col > 0 {
		return fmt.Sprintf("line %d, column %d (%s): %s", e.line, e.col, e.column, e.msg)
	}
	return fmt.Sprintf("line %d: %s", e.line, e.msg)
}

// recordSource yields the records of an input one at a time.
type recordSource interface {
	// next returns the next record; an *importLineError for a record that cannot
	// be parsed, after which reading may go on; io.EOF at the end; any
	// other error ends the input.
	next() (importRecord, error)
}

// jsonlSource reads {"key":...,"fields":{...}} lines.
type jsonlSource struct {
	br   *bufio.Reader
	keep func(field string) bool // nil keeps every field
	line int
	buf  []byte
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line without its end, or errLineTooLong having
// skipped a line longer than importMaxLineBytes. The result is valid until
// the next call.
func (s *jsonlSource) readLine() ([]byte, error) {
	s.buf = s.buf[:0]
	s.line++
	tooLong := false
	for {
		chunk, err := s.br.ReadSlice('\n')
		if !tooLong && len(s.buf)+len(chunk) > importMaxLineBytes+1 {
			tooLong, s.buf = true, s.buf[:0]
		}
		if !tooLong {
			s.buf = append(s.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong && (err == nil || errors.Is(err, io.EOF)) {
			return nil, errLineTooLong
		}
		return s.buf, err
	}
}

func (s *jsonlSource) next() (importRecord, error) {
	for {
		b, err := s.readLine()
		if errors.Is(err, errLineTooLong) {
			return importRecord{}, &importLineError{line: s.line, code: "too_large",
				msg: fmt.Sprintf("longer than %d bytes; no node accepts a record that large", importMaxLineBytes)}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return importRecord{}, fmt.Errorf("read line %d: %w", s.line, err)
		}
		t := bytes.TrimSpace(b)
		if len(t) == 0 {
			if err != nil {
				return importRecord{}, io.EOF
			}
			continue
		}
		p, perr := parseJSONLRecord(t, s.keep)
		if perr != nil {
			perr.line, perr.text = s.line, string(t)
			return importRecord{}, perr
		}
		p.line = s.line
		return p, nil
	}
}

// parseJSONLRecord parses one non-blank JSONL line.
func parseJSONLRecord(b []byte, keep func(string) bool) (importRecord, *importLineError) {
	var rec struct {
		Key    *string                    `json:"key"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	err := dec.Decode(&rec)
	if err == nil && dec.More() {
		err = fmt.Errorf("trailing data at byte %d", dec.InputOffset())
	}
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			err = fmt.Errorf("%w (at byte %d)", err, se.Offset)
		}
		return importRecord{}, &importLineError{code: "bad_json",
			msg: fmt.Sprintf(`malformed JSON: %v; each line must be {"key":"...","fields":{...}}`, err)}
	}
	if err := dict.CheckText(b); err != nil {
		return importRecord{}, &importLineError{code: "bad_json", msg: err.Error()}
	}
	if rec.Key == nil || *rec.Key == "" {
		return importRecord{}, &importLineError{code: "bad_json", msg: `no "key"; each line must be {"key":"...","fields":{...}}`}
	}
	if rec.Fields == nil {
		return importRecord{}, &importLineError{code: "bad_json", msg: `no "fields" object; each line must be {"key":"...","fields":{...}}`}
	}
	if keep != nil {
		for name := range rec.Fields {
			if !keep(name) {
				delete(rec.Fields, name)
			}
		}
	}
	return importRecord{rec: api.BatchRecord{Key: *rec.Key, Fields: rec.Fields}, size: len(b)}, nil
}

// csvSource reads a CSV file with a header key,FIELD,... and converts each
// cell by its field's type.
type csvSource struct {
	r    *csv.Reader
	cols []csvColumn // cols[0] is the key
}

type csvColumn struct {
	name string
	typ  dict.FieldType
	skip bool // not in the dataset, dropped by --drop-other-fields
}

// newCSVSource reads and checks the header: every column must be a field of
// typ (and of ds, unless drop), each at most once.
func newCSVSource(in io.Reader, typ *dict.EntityType, ds *dict.Dataset, drop bool) (*csvSource, error) {
	r := csv.NewReader(bufio.NewReaderSize(in, 256<<10))
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the CSV file is empty; it must start with a header line: key,FIELD")
	}
	if err != nil {
		return nil, fmt.Errorf("CSV header: %w", err)
	}
	s := &csvSource{r: r, cols: make([]csvColumn, len(header))}
	first := strings.TrimPrefix(header[0], "\uFEFF")
	if first != "key" {
		return nil, fmt.Errorf("line 1, column 1: the CSV header must start with \"key\", not %q", first)
	}
	s.cols[0].name = "key"
	seen := map[string]bool{}
	for i, name := range header[1:] {
		col := i + 2
		f, ok := typ.Fields[name]
		switch {
		case !ok:
			return nil, fmt.Errorf("line 1, column %d: %q is not a field of entity type %s (its fields: %s); nothing was imported",
				col, name, typ.Name, strings.Join(sortedFieldNames(typ), ", "))
		case seen[name]:
			return nil, fmt.Errorf("line 1, column %d: column %q appears twice; nothing was imported", col, name)
		case !ds.Covers(name) && !drop:
			return nil, fmt.Errorf("line 1, column %d: field %q is not in dataset %s (its fields: %s); remove the column or give --drop-other-fields; nothing was imported",
				col, name, ds.Name, strings.Join(ds.Fields, ", "))
		}
		seen[name] = true
		s.cols[i+1] = csvColumn{name: name, typ: f.Type, skip: !ds.Covers(name)}
	}
	return s, nil
}

func sortedFieldNames(t *dict.EntityType) []string {
	names := make([]string, 0, len(t.Fields))
	for n := range t.Fields {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s *csvSource) next() (importRecord, error) {
	row, err := s.r.Read()
	if errors.Is(err, io.EOF) {
		return importRecord{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return importRecord{}, &importLineError{line: pe.StartLine, code: "bad_csv", msg: pe.Err.Error(), text: csvText(row)}
		}
		return importRecord{}, fmt.Errorf("read CSV: %w", err)
	}
	line, _ := s.r.FieldPos(0)
	fail := func(i int, msg string) error {
		return &importLineError{line: line, col: i + 1, column: s.cols[i].name, code: "bad_csv", msg: msg, text: csvText(row)}
	}
	if row[0] == "" {
		return importRecord{}, fail(0, "the key is empty")
	}
	p := importRecord{line: line, rec: api.BatchRecord{Key: row[0], Fields: make(map[string]json.RawMessage, len(row)-1)}}
	p.size = len(row[0]) + 16
	for i := 1; i < len(row); i++ {
		c := s.cols[i]
		if c.skip || row[i] == "" {
			continue
		}
		v, err := csvValue(c.typ, row[i])
		if err != nil {
			return importRecord{}, fail(i, err.Error())
		}
		p.rec.Fields[c.name] = v
		p.size += len(c.name) + len(v) + 4
	}
	return p, nil
}

// csvText renders a CSV row back as one CSV line, for the rejects file.
func csvText(row []string) string {
	if row == nil {
		return ""
	}
	var b strings.Builder
	w := csv.NewWriter(&b)
	_ = w.Write(row) // writes to a strings.Builder do not fail
	w.Flush()
	return strings.TrimRight(b.String(), "\r\n")
}

// csvValue converts a non-empty CSV cell to the JSON value of a field of
// type t.
func csvValue(t dict.FieldType, cell string) (json.RawMessage, error) {
	if !utf8.ValidString(cell) {
		return nil, fmt.Errorf("the cell is not UTF-8 text (%q); save the file as UTF-8", cell)
	}
	switch t {
	case dict.Integer, dict.Counter:
		n, err := strconv.ParseInt(strings.TrimSpace(cell), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer (field type %s)", cell, t)
		}
		return strconv.AppendInt(nil, n, 10), nil
	case dict.Boolean:
		switch strings.ToLower(strings.TrimSpace(cell)) {
		case "true", "1":
			return json.RawMessage("true"), nil
		case "false", "0":
			return json.RawMessage("false"), nil
		}
		return nil, fmt.Errorf("%q is not a boolean; write true, false, 1 or 0", cell)
	case dict.Set:
		return csvJSON(strings.Split(cell, "|"))
	case dict.Object:
		if !json.Valid([]byte(cell)) {
			return nil, fmt.Errorf("an object cell must be raw JSON, e.g. {\"a\":1}; %q is not", cell)
		}
		if err := dict.CheckText([]byte(cell)); err != nil {
			return nil, err
		}
		return json.RawMessage(cell), nil
	default: // string, date, datetime, enum, decimal
		return csvJSON(cell)
	}
}

// csvJSON marshals v without HTML escaping.
func csvJSON(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// importer sends the records of one import and counts them.
type importer struct {
	c       *Client
	std     *IO
	opts    *importOptions
	dataset string
	path    string // of the batch endpoint

	rejectsFile  *os.File
	rejectsOut   *bufio.Writer
	chunkRejects []rejectLine // of the chunk being sent, written sorted by line

	imported, rejected int
	start              time.Time
	progress           bool // stderr is a terminal
	lastProgress       time.Time
	progressShown      bool
}

// rejectLine is one line of the rejects file.
type rejectLine struct {
	Line   int              `json:"line"`
	Key    string           `json:"key,omitempty"`
	Error  api.ErrorDetail  `json:"error"`
	Record *api.BatchRecord `json:"record,omitempty"`
	Text   string           `json:"text,omitempty"` // a line that could not be parsed
}

// importChunk is a batch of records read ahead, with the local rejects
// among them.
type importChunk struct {
	recs []importRecord
	bad  []*importLineError // only with --rejects
	err  error              // ends the input after recs
}

// run reads src on a goroutine, one batch ahead, and sends the batches.
// stdin says the input is the process's stdin, whose reads cannot be
// interrupted: run then does not wait for the reader to stop.
func (im *importer) run(ctx context.Context, src recordSource, stdin bool) error {
	partial := im.rejectsOut != nil
	rctx, cancel := context.WithCancel(ctx)
	chunks := make(chan importChunk, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(chunks)
		var cur importChunk
		size := 0
		emit := func() bool {
			select {
			case chunks <- cur:
				cur, size = importChunk{}, 0
				return true
			case <-rctx.Done():
				return false
			}
		}
		for rctx.Err() == nil {
			p, err := src.next()
			var le *importLineError
			switch {
			case errors.Is(err, io.EOF):
				if len(cur.recs) > 0 || len(cur.bad) > 0 {
					emit()
				}
				return
			case errors.As(err, &le) && partial:
				cur.bad = append(cur.bad, le)
				if len(cur.bad) >= im.opts.batch && !emit() {
					return
				}
				continue
			case err != nil:
				cur.err = err
				emit()
				return
			}
			if len(cur.recs) > 0 && size+p.size > importMaxBatchBytes && !emit() {
				return
			}
			cur.recs = append(cur.recs, p)
			size += p.size
			if len(cur.recs) >= im.opts.batch && !emit() {
				return
			}
		}
	}()
	defer func() {
		cancel()
		if !stdin {
			for range chunks { // unblock a pending send
			}
			<-done
		}
	}()

	for ch := range chunks {
		if partial {
			for _, le := range ch.bad {
				im.chunkRejects = append(im.chunkRejects, rejectLine{Line: le.line, Text: le.text,
					Error: api.ErrorDetail{Code: le.code, Message: le.Error()}})
			}
			if err := im.sendPartial(ctx, ch.recs); err != nil {
				return err
			}
			if err := im.flushRejects(); err != nil {
				return err
			}
		} else if err := im.sendStrict(ctx, ch.recs); err != nil {
			return err
		}
		im.showProgress()
		if ch.err != nil {
			return ch.err
		}
	}
	return ctx.Err()
}

// post sends one batch.
func (im *importer) post(ctx context.Context, recs []importRecord, partial bool) (api.BatchResponse, error) {
	req := api.BatchRequest{Mode: im.opts.mode, Partial: partial, Records: make([]api.BatchRecord, len(recs))}
	for i := range recs {
		req.Records[i] = recs[i].rec
	}
	body, err := json.Marshal(req)
	if err != nil {
		return api.BatchResponse{}, err
	}
	var resp api.BatchResponse
	err = im.c.do(ctx, http.MethodPost, im.path, body, &resp)
	return resp, err
}

// sendStrict sends recs without partial. If the node refuses record i,
// nothing of the batch was written: sendStrict sends recs[:i] again and
// returns the refusal with the record's line.
func (im *importer) sendStrict(ctx context.Context, recs []importRecord) error {
	if len(recs) == 0 {
		return nil
	}
	resp, err := im.post(ctx, recs, false)
	var ae *APIError
	switch {
	case err == nil:
		im.imported += resp.Written
		return nil
	case errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge && len(recs) > 1:
		h := len(recs) / 2
		if err := im.sendStrict(ctx, recs[:h]); err != nil {
			return err
		}
		return im.sendStrict(ctx, recs[h:])
	case errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge:
		return fmt.Errorf("line %d: %w", recs[0].line, err)
	case errors.As(err, &ae) && ae.Detail.Index != nil && *ae.Detail.Index >= 0 && *ae.Detail.Index < len(recs):
		i := *ae.Detail.Index
		if err := im.sendStrict(ctx, recs[:i]); err != nil {
			return err
		}
		return fmt.Errorf("line %d: %w", recs[i].line, err)
	}
	return err
}

// sendPartial sends recs with partial, noting each refused record.
func (im *importer) sendPartial(ctx context.Context, recs []importRecord) error {
	if len(recs) == 0 {
		return nil
	}
	resp, err := im.post(ctx, recs, true)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusRequestEntityTooLarge {
		if len(recs) == 1 {
			im.reject(recs[0], ae.Detail)
			return nil
		}
		h := len(recs) / 2
		if err := im.sendPartial(ctx, recs[:h]); err != nil {
			return err
		}
		return im.sendPartial(ctx, recs[h:])
	}
	if err != nil {
		return err
	}
	im.imported += resp.Written
	for _, rj := range resp.Rejects {
		if rj.Index < 0 || rj.Index >= len(recs) {
			return fmt.Errorf("the node refused record %d of a batch of %d; is it a compatible version?", rj.Index, len(recs))
		}
		im.reject(recs[rj.Index], rj.Error)
	}
	return nil
}

func (im *importer) reject(p importRecord, d api.ErrorDetail) {
	d.Index = nil // a position in the batch, meaningless in the file
	rec := p.rec
	im.chunkRejects = append(im.chunkRejects, rejectLine{Line: p.line, Key: p.rec.Key, Error: d, Record: &rec})
}

// flushRejects writes the rejects of the chunk just sent, by line.
func (im *importer) flushRejects() error {
	slices.SortStableFunc(im.chunkRejects, func(a, b rejectLine) int { return a.Line - b.Line })
	enc := json.NewEncoder(im.rejectsOut)
	enc.SetEscapeHTML(false)
	for i := range im.chunkRejects {
		if err := enc.Encode(&im.chunkRejects[i]); err != nil {
			return fmt.Errorf("write the rejects file: %w", err)
		}
	}
	im.rejected += len(im.chunkRejects)
	clear(im.chunkRejects)
	im.chunkRejects = im.chunkRejects[:0]
	if err := im.rejectsOut.Flush(); err != nil {
		return fmt.Errorf("write the rejects file: %w", err)
	}
	return nil
}

func (im *importer) rate() float64 {
	s := time.Since(im.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(im.imported) / s
}

// showProgress rewrites the progress line on a terminal, at most every
// importProgressEvery.
func (im *importer) showProgress() {
	if !im.progress || time.Since(im.lastProgress) < importProgressEvery {
		return
	}
	im.lastProgress = time.Now()
	im.progressShown = true
	msg := fmt.Sprintf("importing into %s: %d records, %.0f records/s", im.dataset, im.imported, im.rate())
	if im.rejectsOut != nil {
		msg += fmt.Sprintf(", %d rejected", im.rejected)
	}
	fmt.Fprintf(im.std.Err, "\r%s\033[K", msg)
}

// summary prints the closing line on stderr and, with --json, the counts on
// stdout.
func (im *importer) summary(err error) {
	if im.progressShown {
		fmt.Fprint(im.std.Err, "\r\033[K")
	}
	el := time.Since(im.start)
	msg := fmt.Sprintf("imported %d records into %s in %s (%.0f records/s)", im.imported, im.dataset, shortDuration(el), im.rate())
	if im.rejectsOut != nil {
		msg += fmt.Sprintf("; %d rejected", im.rejected)
		if im.rejected > 0 {
			msg += fmt.Sprintf(", appended to %s", im.opts.rejects)
		}
	}
	if err != nil {
		msg += "; stopped early"
	}
	fmt.Fprintln(im.std.Err, msg)
	if im.opts.json {
		out := struct {
			Dataset  string  `json:"dataset"`
			Imported int     `json:"imported"`
			Rejected int     `json:"rejected"`
			Seconds  float64 `json:"seconds"`
			Error    string  `json:"error,omitempty"`
		}{im.dataset, im.imported, im.rejected, el.Seconds(), ""}
		if err != nil {
			out.Error = oneLine(err)
		}
		_ = printJSON(im.std.Out, out)
	}
}

// shortDuration keeps a duration short for people.
func shortDuration(d time.Duration) time.Duration {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond)
	case d < time.Minute:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// isCharDevice reports whether w is a character device, e.g. a terminal.
func isCharDevice(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
