package dict_test

import (
	"encoding/json"
	"testing"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
)

// BenchmarkRecord measures validating one citizen write of the identity
// dataset, as every local write does.
func BenchmarkRecord(b *testing.B) {
	types, err := examples.EntityTypes()
	if err != nil {
		b.Fatal(err)
	}
	dss, _ := examples.Datasets()
	var ds *dict.Dataset
	for _, d := range dss {
		if d.Name == "population.identity" {
			ds = d
		}
	}
	var v *dict.Validator
	for _, t := range types {
		if t.Name == "citizen" {
			v, _ = dict.Compile(t)
		}
	}
	var fields map[string]json.RawMessage
	json.Unmarshal([]byte(`{"full_name":"Nguyễn Văn An","birth_date":"1990-05-01","sex":"male","birth_province":"79",
		"residence_province":"01","ethnicity":"Kinh","phones":["0912345678","0387654321"]}`), &fields)
	b.ReportAllocs()
	for b.Loop() {
		if err := v.Record(ds, fields, false); err != nil {
			b.Fatal(err)
		}
	}
}
