package neigh

import (
	"go/build"
	"strings"
	"testing"
)

// The package may import only the standard library, pkt, errs and doorbell
// (itself standard library only) (DESIGN.md:
// neigh never imports dataplane, port, control or api).
func TestImports(t *testing.T) {
	p, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range p.Imports {
		first := strings.Split(imp, "/")[0]
		if !strings.Contains(first, ".") && first != "flowpath" {
			continue // standard library
		}
		if imp != "flowpath/internal/pkt" && imp != "flowpath/internal/errs" && imp != "flowpath/internal/doorbell" {
			t.Errorf("forbidden import %q", imp)
		}
	}
}
