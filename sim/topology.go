package sim

import (
	"fmt"
	"time"

	"github.com/lienthong/lienthong/docs/examples"
	"github.com/lienthong/lienthong/node/dict"
)

// Kinds of node.
const (
	kindSeed     = "seed"
	kindProvince = "province"
	kindMinistry = "ministry"
	kindDistrict = "district"
)

// nodeSpec is one node of a topology.
type nodeSpec struct {
	Name   string
	Kind   string // seed, province or ministry
	Region string // north, centre or south
	Code   string // province code, provinces only
}

// datasetSpec is one dataset of a topology with its workload.
type datasetSpec struct {
	Dataset *dict.Dataset
	// Every is the time between writes by the owner.
	Every time.Duration
}

// topology is the nodes and datasets of a run.
type topology struct {
	Nodes    []nodeSpec
	Datasets []datasetSpec
}

// buildTopology returns the named topology: "small" (one seed, three
// provinces, three ministries) or "vn" (three seeds at the central office,
// the 34 provinces, the 17 ministries and ministry-level agencies).
//
// districts adds that many district offices per province (kind district,
// named p<code>d<i>), each reading its province's land dataset: a way to
// find how many nodes one machine simulates.
func buildTopology(name string, w Workload, districts int) (*topology, error) {
	provinces, err := examples.Provinces()
	if err != nil {
		return nil, err
	}
	ministries, err := examples.Ministries()
	if err != nil {
		return nil, err
	}
	t := &topology{}
	switch name {
	case "small":
		t.Nodes = append(t.Nodes, nodeSpec{Name: "ndc1", Kind: kindSeed, Region: "north"})
		for _, p := range provinces {
			if p.Code == "01" || p.Code == "46" || p.Code == "79" {
				t.Nodes = append(t.Nodes, nodeSpec{Name: "p" + p.Code, Kind: kindProvince, Region: p.Region, Code: p.Code})
			}
		}
		for _, m := range []string{"mps", "moh", "mae"} {
			t.Nodes = append(t.Nodes, nodeSpec{Name: m, Kind: kindMinistry, Region: "north"})
		}
	case "vn":
		for i := 1; i <= 3; i++ {
			t.Nodes = append(t.Nodes, nodeSpec{Name: fmt.Sprintf("ndc%d", i), Kind: kindSeed, Region: "north"})
		}
		for _, p := range provinces {
			t.Nodes = append(t.Nodes, nodeSpec{Name: "p" + p.Code, Kind: kindProvince, Region: p.Region, Code: p.Code})
		}
		for _, m := range ministries {
			t.Nodes = append(t.Nodes, nodeSpec{Name: m.Short, Kind: kindMinistry, Region: "north"})
		}
	default:
		return nil, fmt.Errorf("sim: unknown topology %q: want small or vn", name)
	}
	var provinceNames []string
	byProvince := map[string][]string{}
	for _, n := range t.Nodes {
		if n.Kind == kindProvince {
			provinceNames = append(provinceNames, n.Name)
			for i := 1; i <= districts; i++ {
				d := nodeSpec{Name: fmt.Sprintf("%sd%d", n.Name, i), Kind: kindDistrict, Region: n.Region, Code: n.Code}
				t.Nodes = append(t.Nodes, d)
				byProvince[n.Name] = append(byProvince[n.Name], d.Name)
			}
		}
	}
	add := func(every time.Duration, js string) error {
		d, err := dict.ParseDataset([]byte(js))
		if err != nil {
			return fmt.Errorf("sim: topology dataset: %w", err)
		}
		t.Datasets = append(t.Datasets, datasetSpec{Dataset: d, Every: every})
		return nil
	}
	for _, n := range t.Nodes {
		if n.Kind != kindProvince {
			continue
		}
		// A province's land parcels, read by the agriculture and
		// environment ministry and the national data centre.
		if err := add(w.ProvinceEvery.D(), fmt.Sprintf(`{"name":"land.%s","entity_type":"land_parcel","key_prefix":"%s-",
			"fields":["commune_code","area_m2","land_use","owner_ids","certificate_no","registered_at"],
			"owner":%q,"readers":%s}`, n.Code, n.Code, n.Name, jsonList(append([]string{"mae", "ndc1"}, byProvince[n.Name]...)))); err != nil {
			return nil, err
		}
	}
	// Ministry fields on shared citizens: identity from public security,
	// read by every province; insurance from health.
	readers := append([]string{"moh", "ndc1"}, provinceNames...)
	if err := add(w.MinistryEvery.D(), fmt.Sprintf(`{"name":"population.identity","entity_type":"citizen",
		"fields":["full_name","birth_date","sex","birth_province","residence_province","ethnicity"],
		"owner":"mps","readers":%s}`, jsonList(readers))); err != nil {
		return nil, err
	}
	if err := add(w.MinistryEvery.D()*2, `{"name":"health.insurance","entity_type":"citizen",
		"fields":["insurance_number","insurance_expiry"],"owner":"moh","readers":["mps","ndc1"]}`); err != nil {
		return nil, err
	}
	return t, nil
}

func jsonList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("%q", x)
	}
	return out + "]"
}
