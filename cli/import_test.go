package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node"
	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/node/meta"
)

// importNode is a real node (Pebble on disk) serving its API on loopback,
// with the sample dictionary; every sample dataset is owned by the node.
type importNode struct {
	url, token string
	datasets   map[string]*dict.Dataset
}

func startImportNode(t *testing.T) *importNode {
	t.Helper()
	dir := t.TempDir()
	cfg := node.DefaultConfig("mps")
	res, err := node.Init(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = node.LoadConfig(dir); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(cfg, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	types, err := examples.EntityTypes()
	if err != nil {
		t.Fatal(err)
	}
	for _, ty := range types {
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutType, Type: ty}); err != nil {
			t.Fatal(err)
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		t.Fatal(err)
	}
	in := &importNode{token: res.AdminToken, datasets: map[string]*dict.Dataset{}}
	for _, d := range dss {
		d.Owner, d.OwnerEpoch, d.Readers = "mps", 0, nil
		if _, err := n.Meta().Propose(ctx, meta.Command{Op: meta.OpPutDataset, Dataset: d}); err != nil {
			t.Fatal(err)
		}
		in.datasets[d.Name] = d
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(func() { srv.Close(); n.Close() })
	in.url = srv.URL
	return in
}

// run runs the CLI in-process with the node's address and token appended.
func (in *importNode) run(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if in != nil {
		args = append(args, "--api", in.url, "--token", in.token)
	}
	return runImportCLI(t, stdin, args...)
}

func runImportCLI(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, &IO{In: stdin, Out: &out, Err: &errb, Env: func(string) string { return "" }})
	t.Logf("lienthong %s → %d\n%s", strings.Join(args, " "), code, errb.String())
	return code, out.String(), errb.String()
}

// exported returns the dataset's records from lienthong export, normalised.
func (in *importNode) exported(t *testing.T, dataset string) map[string]map[string]any {
	t.Helper()
	code, out, _ := in.run(t, nil, "export", dataset)
	if code != 0 {
		t.Fatalf("export %s: exit %d", dataset, code)
	}
	return importParseJSONL(t, strings.NewReader(out), nil)
}

// importParseJSONL reads {"key","fields"} lines, keeping the fields keep accepts
// (all if nil), in a normal form: numbers as json.Number, sets sorted, and
// empty sets and a zero clinic_visits counter left out, as export shows them
// (a counter put to 0 on a new entity has no increment and reads as absent).
func importParseJSONL(t *testing.T, r io.Reader, keep func(string) bool) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var rec struct {
			Key    string
			Fields map[string]any
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		for name, v := range rec.Fields {
			if (keep != nil && !keep(name)) || (name == "clinic_visits" && v == json.Number("0")) {
				delete(rec.Fields, name)
				continue
			}
			if a, ok := v.([]any); ok {
				if len(a) == 0 {
					delete(rec.Fields, name)
					continue
				}
				slices.SortFunc(a, func(x, y any) int { return strings.Compare(x.(string), y.(string)) })
			}
		}
		out[rec.Key] = rec.Fields
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// importGenFile writes count citizens of seed 1 to a file and returns its path
// and lines.
func importGenFile(t *testing.T, count int) (string, []string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "citizens.jsonl")
	if code, _, _ := runImportCLI(t, nil, "gen", "citizen", "--count", fmt.Sprint(count), "--out", path); code != 0 {
		t.Fatalf("gen: exit %d", code)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func importWriteLines(t *testing.T, lines []string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportExportRoundTrip(t *testing.T) {
	in := startImportNode(t)
	path, _ := importGenFile(t, 3000)
	for _, ds := range []string{"population.identity", "health.insurance"} {
		code, out, stderr := in.run(t, nil, "import", ds, path, "--drop-other-fields", "--batch", "700", "--json")
		if code != 0 {
			t.Fatalf("import %s: exit %d: %s", ds, code, stderr)
		}
		var res struct {
			Dataset            string
			Imported, Rejected int
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("--json output %q: %v", out, err)
		}
		if res.Dataset != ds || res.Imported != 3000 || res.Rejected != 0 {
			t.Errorf("import %s --json = %+v, want 3000 imported, 0 rejected", ds, res)
		}
		if !strings.Contains(stderr, "imported 3000 records into "+ds) {
			t.Errorf("summary missing from stderr: %q", stderr)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		want := importParseJSONL(t, f, in.datasets[ds].Covers)
		f.Close()
		got := in.exported(t, ds)
		if len(got) != 3000 {
			t.Fatalf("export %s: %d records, want 3000", ds, len(got))
		}
		if !reflect.DeepEqual(got, want) {
			for k := range want {
				if !reflect.DeepEqual(got[k], want[k]) {
					t.Fatalf("export %s: key %s = %v, want %v", ds, k, got[k], want[k])
				}
			}
		}
	}

	// What export wrote, import reads: into a second node, through stdin.
	code, out, _ := in.run(t, nil, "export", "population.identity")
	if code != 0 {
		t.Fatal(code)
	}
	in2 := startImportNode(t)
	blanks := "\n\n" + strings.ReplaceAll(out, "\n", "\n\n")
	if code, _, stderr := in2.run(t, strings.NewReader(blanks), "import", "population.identity", "-"); code != 0 {
		t.Fatalf("import from stdin: exit %d: %s", code, stderr)
	}
	if got, want := in2.exported(t, "population.identity"), in.exported(t, "population.identity"); !reflect.DeepEqual(got, want) {
		t.Errorf("export → import → export differs: %d records vs %d", len(got), len(want))
	}
}

// importBadCitizen is line with a birth date the node refuses.
func importBadCitizen(t *testing.T, line string) string {
	t.Helper()
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatal(err)
	}
	rec["fields"].(map[string]any)["birth_date"] = "31/12/1990"
	b, _ := json.Marshal(rec)
	return string(b)
}

func TestImportStopsAtFirstRefusedRecord(t *testing.T) {
	in := startImportNode(t)
	_, lines := importGenFile(t, 3000)
	lines[1499] = importBadCitizen(t, lines[1499])
	path := importWriteLines(t, lines)

	code, _, stderr := in.run(t, nil, "import", "population.identity", path, "--drop-other-fields")
	if code != ExitRejected {
		t.Errorf("exit %d, want %d", code, ExitRejected)
	}
	if !strings.Contains(stderr, "line 1500: ") || !strings.Contains(stderr, "birth_date") {
		t.Errorf("stderr does not name line 1500 and the field: %q", stderr)
	}
	if !strings.Contains(stderr, "imported 1499 records") {
		t.Errorf("stderr does not say how many were imported: %q", stderr)
	}
	got := in.exported(t, "population.identity")
	if len(got) != 1499 {
		t.Errorf("the node holds %d records, want 1499", len(got))
	}
	var bad struct{ Key string }
	json.Unmarshal([]byte(lines[1499]), &bad)
	if _, ok := got[bad.Key]; ok {
		t.Errorf("the refused record %s was written", bad.Key)
	}
}

func TestImportRejectsFile(t *testing.T) {
	in := startImportNode(t)
	_, lines := importGenFile(t, 3000)
	lines[1499] = importBadCitizen(t, lines[1499])
	lines[9] = `{"key": "012345678901", "fields": {`
	path := importWriteLines(t, lines)
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")

	code, out, stderr := in.run(t, nil, "import", "population.identity", path, "--drop-other-fields", "--rejects", rejects, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, `"imported": 2998`) || !strings.Contains(out, `"rejected": 2`) {
		t.Errorf("--json output %q, want 2998 imported and 2 rejected", out)
	}
	if n := len(in.exported(t, "population.identity")); n != 2998 {
		t.Errorf("the node holds %d records, want 2998", n)
	}
	b, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	var rl []rejectLine
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r rejectLine
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("rejects line %q: %v", l, err)
		}
		rl = append(rl, r)
	}
	if len(rl) != 2 {
		t.Fatalf("rejects file has %d lines, want 2:\n%s", len(rl), b)
	}
	if rl[0].Line != 10 || rl[0].Error.Code != "bad_json" || rl[0].Text == "" {
		t.Errorf("first reject = %+v, want line 10, bad_json, with its text", rl[0])
	}
	var bad struct{ Key string }
	json.Unmarshal([]byte(lines[1499]), &bad)
	if r := rl[1]; r.Line != 1500 || r.Key != bad.Key || r.Error.Field != "birth_date" || r.Record == nil || r.Record.Key != bad.Key {
		t.Errorf("second reject = %+v, want line 1500, key %s, field birth_date, with its record", r, bad.Key)
	}
}

func TestImportMalformedLineStops(t *testing.T) {
	in := startImportNode(t)
	_, lines := importGenFile(t, 20)
	lines[6] = `{"key":"012345678901","fields":{"full_name":}}`
	path := importWriteLines(t, lines)
	code, _, stderr := in.run(t, nil, "import", "population.identity", path, "--drop-other-fields")
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	if !strings.Contains(stderr, "line 7: malformed JSON") {
		t.Errorf("stderr does not name line 7: %q", stderr)
	}
	if n := len(in.exported(t, "population.identity")); n != 6 {
		t.Errorf("the node holds %d records, want the 6 before line 7", n)
	}
}

func TestImportCSV(t *testing.T) {
	in := startImportNode(t)
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	identity := write("identity.csv", `key,full_name,birth_date,sex,birth_province,residence_province,ethnicity,phones,clinic_visits
079090000001,"Nguyễn Văn An",1990-05-01,male,79,01,Kinh,0901234567|0912345678,3
079195000002,"Trần Thị, Bình",1995-12-31,female,79,,,,
`)
	// clinic_visits is not in population.identity: refused unless dropped.
	code, _, stderr := in.run(t, nil, "import", "population.identity", identity)
	if code == 0 || !strings.Contains(stderr, `"clinic_visits" is not in dataset population.identity`) {
		t.Errorf("a column outside the dataset: exit %d, %q", code, stderr)
	}
	if code, _, stderr := in.run(t, nil, "import", "population.identity", identity, "--drop-other-fields"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want := map[string]map[string]any{
		"079090000001": {"full_name": "Nguyễn Văn An", "birth_date": "1990-05-01", "sex": "male", "birth_province": "79",
			"residence_province": "01", "ethnicity": "Kinh", "phones": []any{"0901234567", "0912345678"}},
		"079195000002": {"full_name": "Trần Thị, Bình", "birth_date": "1995-12-31", "sex": "female", "birth_province": "79"},
	}
	if got := in.exported(t, "population.identity"); !reflect.DeepEqual(got, want) {
		t.Errorf("population.identity = %v, want %v", got, want)
	}

	insurance := write("insurance.txt", "key,insurance_number,insurance_expiry,clinic_visits\n"+
		"079090000001,DN4790123456789,2027-01-31,3\n"+
		"079195000002,HS4790123456780,,0\n")
	if code, _, stderr := in.run(t, nil, "import", "health.insurance", insurance, "--format", "csv"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	want = map[string]map[string]any{
		"079090000001": {"insurance_number": "DN4790123456789", "insurance_expiry": "2027-01-31", "clinic_visits": json.Number("3")},
		"079195000002": {"insurance_number": "HS4790123456780"}, // a counter put to 0 reads as absent
	}
	if got := in.exported(t, "health.insurance"); !reflect.DeepEqual(got, want) {
		t.Errorf("health.insurance = %v, want %v", got, want)
	}

	badInt := write("bad.csv", "key,insurance_number,clinic_visits\n"+
		"079090000003,DN4790123456781,1\n"+
		"079090000004,DN4790123456782,many\n")
	code, _, stderr = in.run(t, nil, "import", "health.insurance", badInt)
	if code == 0 || !strings.Contains(stderr, `line 3, column 3 (clinic_visits): "many" is not an integer`) {
		t.Errorf("bad integer: exit %d, %q", code, stderr)
	}
	if got := in.exported(t, "health.insurance"); len(got) != 3 {
		t.Errorf("after the bad integer the node holds %d records, want 3 (line 2 imported)", len(got))
	}

	unknown := write("unknown.csv", "key,full_name,shoe_size\n079090000005,A,42\n")
	code, _, stderr = in.run(t, nil, "import", "population.identity", unknown, "--drop-other-fields")
	if code == 0 || !strings.Contains(stderr, `column 3: "shoe_size" is not a field of entity type citizen`) {
		t.Errorf("unknown column: exit %d, %q", code, stderr)
	}
	if got := in.exported(t, "population.identity"); len(got) != 2 {
		t.Errorf("after the unknown column the node holds %d records, want 2", len(got))
	}
}

func TestCSVValue(t *testing.T) {
	for _, tc := range []struct {
		typ        dict.FieldType
		cell, want string // want "" for an error
	}{
		{dict.String, `Nguyễn "An" <b>`, `"Nguyễn \"An\" <b>"`},
		{dict.Date, "2024-02-29", `"2024-02-29"`},
		{dict.DateTime, "2024-02-29T10:00:00+07:00", `"2024-02-29T10:00:00+07:00"`},
		{dict.Enum, "male", `"male"`},
		{dict.Decimal, "-1250.50", `"-1250.50"`},
		{dict.Integer, "42", `42`},
		{dict.Integer, " -7 ", `-7`},
		{dict.Integer, "4.5", ""},
		{dict.Integer, "1e3", ""},
		{dict.Counter, "12", `12`},
		{dict.Counter, "x", ""},
		{dict.Boolean, "true", `true`},
		{dict.Boolean, "FALSE", `false`},
		{dict.Boolean, "1", `true`},
		{dict.Boolean, "0", `false`},
		{dict.Boolean, "yes", ""},
		{dict.Set, "a|b|c", `["a","b","c"]`},
		{dict.Set, "only", `["only"]`},
		{dict.Object, `{"a":[1,2]}`, `{"a":[1,2]}`},
		{dict.Object, `{"a":`, ""},
		{dict.Object, `{"a":1,"a":2}`, ""},
		{dict.String, "Tr\xe1n", ""},
		{dict.Set, "a|\xff", ""},
	} {
		t.Run(string(tc.typ)+"/"+tc.cell, func(t *testing.T) {
			got, err := csvValue(tc.typ, tc.cell)
			if tc.want == "" {
				if err == nil {
					t.Errorf("csvValue(%s, %q) = %s, want an error", tc.typ, tc.cell, got)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("csvValue(%s, %q) = %s, %v; want %s", tc.typ, tc.cell, got, err, tc.want)
			}
		})
	}
}

func TestImportUsage(t *testing.T) {
	for _, args := range [][]string{
		{"import", "population.identity"},
		{"import", "population.identity", "f", "--format", "xml"},
		{"import", "population.identity", "f", "--batch", "0"},
		{"import", "population.identity", "f", "--batch", "10001"},
		{"import", "population.identity", "f", "--mode", "merge"},
	} {
		if code, _, _ := runImportCLI(t, nil, append(args, "--api", "http://127.0.0.1:1", "--token", "x")...); code != ExitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, ExitUsage)
		}
	}
	in := startImportNode(t)
	if code, _, _ := in.run(t, strings.NewReader(""), "import", "no.such", "-"); code != ExitRejected {
		t.Errorf("unknown dataset: exit %d, want %d", code, ExitRejected)
	}
}

func TestImportLongLine(t *testing.T) {
	src := &jsonlSource{br: bufio.NewReaderSize(strings.NewReader(
		`{"key":"a","fields":{}}`+"\n"+strings.Repeat("x", importMaxLineBytes+10)+"\n"+`{"key":"b","fields":{}}`), 64<<10)}
	p, err := src.next()
	if err != nil || p.rec.Key != "a" || p.line != 1 {
		t.Fatalf("first: %+v, %v", p, err)
	}
	_, err = src.next()
	if le, ok := err.(*importLineError); !ok || le.line != 2 || le.code != "too_large" {
		t.Fatalf("long line: %v, want a too_large error on line 2", err)
	}
	p, err = src.next()
	if err != nil || p.rec.Key != "b" || p.line != 3 {
		t.Fatalf("after the long line: %+v, %v", p, err)
	}
	if _, err = src.next(); err != io.EOF {
		t.Fatalf("end: %v, want EOF", err)
	}
}

func TestGen(t *testing.T) {
	gen := func(args ...string) string {
		t.Helper()
		code, out, _ := runImportCLI(t, nil, append([]string{"gen"}, args...)...)
		if code != 0 {
			t.Fatalf("gen %v: exit %d", args, code)
		}
		return out
	}
	a, b := gen("citizen", "--count", "100", "--seed", "7"), gen("citizen", "--seed", "7", "--count", "100")
	if a != b || strings.Count(a, "\n") != 100 {
		t.Errorf("same seed gave different output, or not 100 lines")
	}
	if c := gen("citizen", "--count", "100", "--seed", "8"); c == a {
		t.Errorf("seeds 7 and 8 gave the same output")
	}
	for _, l := range strings.Split(strings.TrimSpace(gen("land_parcel", "--count", "50", "--provinces", "79")), "\n") {
		if !strings.HasPrefix(l, `{"key":"79-`) {
			t.Fatalf("--provinces 79 gave %s", l)
		}
	}
	path := filepath.Join(t.TempDir(), "out.jsonl")
	gen("citizen", "--count", "100", "--seed", "7", "--out", path)
	if f, _ := os.ReadFile(path); string(f) != a {
		t.Errorf("--out wrote different bytes from stdout")
	}
	for _, args := range [][]string{{"person", "--count", "1"}, {"citizen"}, {"citizen", "--count", "1", "--provinces", "99"}} {
		code, _, stderr := runImportCLI(t, nil, append([]string{"gen"}, args...)...)
		if code != ExitUsage {
			t.Errorf("gen %v: exit %d, want %d", args, code, ExitUsage)
		}
		if args[0] == "person" && !strings.Contains(stderr, "business, citizen, land_parcel") {
			t.Errorf("unknown type does not list the kinds: %q", stderr)
		}
	}
}

// TestImportMillion imports a million generated citizens and reports the
// peak heap. It takes minutes, so it runs only with LIENTHONG_TEST_MILLION=1.
func TestImportMillion(t *testing.T) {
	if os.Getenv("LIENTHONG_TEST_MILLION") == "" {
		t.Skip("set LIENTHONG_TEST_MILLION=1 to import a million records")
	}
	in := startImportNode(t)
	path := filepath.Join(t.TempDir(), "million.jsonl")
	if code, _, _ := runImportCLI(t, nil, "gen", "citizen", "--count", "1000000", "--out", path); code != 0 {
		t.Fatal(code)
	}
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	code, _, stderr := in.run(t, nil, "import", "population.identity", path, "--drop-other-fields", "--json")
	close(stop)
	<-done
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	t.Logf("peak heap in use (node and import together): %d MiB", peak.Load()>>20)
}
