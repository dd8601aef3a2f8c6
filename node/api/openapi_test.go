package api

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	"github.com/prometheus/client_golang/prometheus"
)

// TestOpenAPIMatchesRouter: docs/openapi.yaml is a valid OpenAPI 3.1
// document whose references all resolve, it describes every route the
// router serves, and every route it describes is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	spec, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := libopenapi.NewDocument(spec)
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	if v := doc.GetVersion(); v != "3.1.0" {
		t.Fatalf("docs/openapi.yaml is OpenAPI %s, want 3.1.0", v)
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	for _, err := range model.Index.GetReferenceIndexErrors() {
		t.Errorf("docs/openapi.yaml: %v", err)
	}
	var documented []string
	for path, item := range model.Model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().KeysFromOldest() {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}
	_, served := newMux(Config{Registry: prometheus.NewRegistry()})
	for _, p := range served {
		if !slices.Contains(documented, p) {
			t.Errorf("the router serves %s, which docs/openapi.yaml does not describe", p)
		}
	}
	for _, p := range documented {
		if !slices.Contains(served, p) {
			t.Errorf("docs/openapi.yaml describes %s, which the router does not serve", p)
		}
	}
	if len(served) == 0 {
		t.Fatal("the router lists no routes")
	}
}
