package examples

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"

	"github.com/lienthong/lienthong/node/dict"
)

// EntityTypes parses the sample entity types in schemas/*.json and returns
// them sorted by name. Each call returns fresh values owned by the caller.
func EntityTypes() ([]*dict.EntityType, error) {
	names, err := fs.Glob(FS, "schemas/*.json")
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	out := make([]*dict.EntityType, 0, len(names))
	for _, name := range names {
		data, err := FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("examples: %w", err)
		}
		t, err := dict.ParseEntityType(data)
		if err != nil {
			return nil, fmt.Errorf("examples: %s: %w", name, err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Datasets parses the sample datasets in datasets.json, in file order. Each
// call returns fresh values owned by the caller.
func Datasets() ([]*dict.Dataset, error) {
	data, err := FS.ReadFile("datasets.json")
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return nil, fmt.Errorf("examples: datasets.json: %w", err)
	}
	out := make([]*dict.Dataset, 0, len(raws))
	for i, raw := range raws {
		d, err := dict.ParseDataset(raw)
		if err != nil {
			return nil, fmt.Errorf("examples: datasets.json: dataset %d: %w", i, err)
		}
		out = append(out, d)
	}
	return out, nil
}
