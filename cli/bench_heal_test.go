package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestBenchHeal(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"bench", "heal", "--count", "2000", "--diverged", "100"}, &IO{Out: &out, Err: &errb})
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	fields := strings.Fields(strings.Split(strings.TrimSpace(out.String()), "\n")[2])
	if len(fields) != 6 || fields[0] != "2000" || fields[1] != "100" || fields[2] == "0" || fields[4] == "0.00" {
		t.Fatalf("figures: %q", out.String())
	}
}
