package node

import (
	"testing"

	"github.com/lienthong/lienthong/node/dict"
	"github.com/lienthong/lienthong/storage"
)

func mustDataset(t *testing.T, s string) *dict.Dataset {
	t.Helper()
	d, err := dict.ParseDataset([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func streamOf(dataset, origin string) storage.Stream {
	return storage.Stream{Dataset: dataset, Origin: origin}
}
