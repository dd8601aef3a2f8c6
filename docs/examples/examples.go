// Package examples embeds the sample data dictionary and the reference lists
// (provinces, ministries) so that the CLI's dev node, the generator, the tests
// and the simulator all read the same files that the documentation shows.
//
// It must not import anything from lienthong but node/dict.
package examples

import (
	"bytes"
	"embed"
	"encoding/csv"
	"fmt"
	"strings"
)

// FS holds the files of this folder. Callers must not modify what they read.
//
//go:embed *.csv *.json schemas/*.json
var FS embed.FS

// Province is one provincial-level unit in force since 1 July 2025.
type Province struct {
	Code       string   // two digits, e.g. "79"
	Name       string   // with diacritics, e.g. "Hồ Chí Minh"
	Kind       string   // "city" or "province"
	Region     string   // "north", "centre" or "south"
	MergedFrom []string // pre-2025 units as "CODE Name"; empty when unchanged
}

// Ministry is a ministry or ministry-level agency.
type Ministry struct {
	Short string // usable as a node name, e.g. "moh"
	Name  string
}

// Provinces returns the 34 provinces in the order of provinces.csv.
// The returned slice is a fresh copy owned by the caller.
func Provinces() ([]Province, error) {
	rows, err := readCSV("provinces.csv", 5)
	if err != nil {
		return nil, err
	}
	out := make([]Province, 0, len(rows))
	for _, r := range rows {
		p := Province{Code: r[0], Name: r[1], Kind: r[2], Region: r[3]}
		if r[4] != "" {
			p.MergedFrom = strings.Split(r[4], ";")
		}
		out = append(out, p)
	}
	return out, nil
}

// Ministries returns the ministries in the order of ministries.csv.
func Ministries() ([]Ministry, error) {
	rows, err := readCSV("ministries.csv", 2)
	if err != nil {
		return nil, err
	}
	out := make([]Ministry, 0, len(rows))
	for _, r := range rows {
		out = append(out, Ministry{Short: r[0], Name: r[1]})
	}
	return out, nil
}

// readCSV returns the rows of an embedded CSV file without its header.
func readCSV(name string, cols int) ([][]string, error) {
	data, err := FS.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("examples: %w", err)
	}
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = cols
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("examples: parse %s: %w", name, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("examples: %s is empty", name)
	}
	return rows[1:], nil
}
