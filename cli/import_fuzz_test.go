package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"unicode/utf8"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
)

// FuzzParseJSONLRecord: any line of a JSONL import gives a record or a line
// error, never a panic; a record has a key and fields that are valid JSON
// in UTF-8.
func FuzzParseJSONLRecord(f *testing.F) {
	for _, s := range []string{`{"key":"079090000001","fields":{"full_name":"An"}}`, `{"key":"k","fields":{"a":1,"a":2}}`,
		`{"key":"","fields":{}}`, `{"key":"k"}`, "{\"key\":\"k\",\"fields\":{\"a\":\"\xff\"}}", `{"key":"k","fields":{}} x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, perr := parseJSONLRecord(b, nil)
		if perr != nil {
			if perr.msg == "" {
				t.Fatalf("%q: a line error without a message", b)
			}
			return
		}
		if rec.rec.Key == "" || rec.rec.Fields == nil {
			t.Fatalf("%q: accepted without a key or fields", b)
		}
		for name, v := range rec.rec.Fields {
			if !json.Valid(v) || !utf8.Valid(v) {
				t.Fatalf("%q: field %s is %q, not valid JSON in UTF-8", b, name, v)
			}
		}
	})
}

// FuzzCSVSource: any CSV file for the citizen type gives records or errors,
// never a panic; every value it makes is valid JSON in UTF-8 that CheckText
// accepts.
func FuzzCSVSource(f *testing.F) {
	types, err := examples.EntityTypes()
	if err != nil {
		f.Fatal(err)
	}
	var citizen *dict.EntityType
	for _, t := range types {
		if t.Name == "citizen" {
			citizen = t
		}
	}
	dss, err := examples.Datasets()
	if err != nil {
		f.Fatal(err)
	}
	var identity *dict.Dataset
	for _, d := range dss {
		if d.Name == "population.identity" {
			identity = d
		}
	}
	for _, s := range []string{"key,full_name,phones\n079090000001,An,0901|0902\n", "key,clinic_visits\nk,12\nk,x\n",
		"\uFEFFkey,full_name\n\"a\nb\",\"c\"\"d\"\n", "key\n", "key,key\n", "nokey,a\n", "key,full_name\nk,\xff\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := newCSVSource(bytes.NewReader(b), citizen, identity, true)
		if err != nil {
			return
		}
		for range 100 {
			rec, err := src.next()
			if errors.Is(err, io.EOF) {
				return
			}
			var le *importLineError
			if errors.As(err, &le) {
				continue
			}
			if err != nil {
				return
			}
			for name, v := range rec.rec.Fields {
				if !json.Valid(v) || !utf8.Valid(v) || dict.CheckText(v) != nil {
					t.Fatalf("%q: field %s is %q, not JSON that a node stores", b, name, v)
				}
			}
		}
	})
}
