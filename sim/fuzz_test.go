package sim

import (
	"errors"
	"testing"
)

// FuzzParseScenario: any scenario file gives a scenario or an ErrScenario,
// never a panic.
func FuzzParseScenario(f *testing.F) {
	for _, s := range []string{"name: x\nduration: 1h\n", "name: x\nduration: 1h\nevents:\n  - at: 1m\n    transfer: {dataset: d, to: p}\n",
		"duration: -1s\n", "events: [null]\n", "name: x\nduration: 1h\nevents:\n  - at: 2h\n    heal: true\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, err := ParseScenario(b, "fuzz.yaml")
		if err != nil && !errors.Is(err, ErrScenario) {
			t.Fatalf("%q: an error that is not ErrScenario: %v", b, err)
		}
		if err == nil && sc == nil {
			t.Fatalf("%q: no scenario and no error", b)
		}
	})
}
