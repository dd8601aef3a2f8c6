package examples

import "testing"

func TestReferenceLists(t *testing.T) {
	ps, err := Provinces()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 34 {
		t.Fatalf("got %d provinces, want 34", len(ps))
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if len(p.Code) != 2 || seen[p.Code] {
			t.Errorf("province %q: bad or duplicate code %q", p.Name, p.Code)
		}
		seen[p.Code] = true
		switch p.Region {
		case "north", "centre", "south":
		default:
			t.Errorf("province %s: region %q", p.Code, p.Region)
		}
	}
	ms, err := Ministries()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 17 {
		t.Fatalf("got %d ministries, want 17", len(ms))
	}
}
