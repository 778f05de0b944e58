package tunnel

import (
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestImports enforces the layering rule: the package uses the standard
// library and flowpath's pkt, hdr and errs only (tests may use gopacket as
// an independent decoder); never dataplane, port, control or api.
func TestImports(t *testing.T) {
	allowed := map[string]bool{"flowpath/internal/pkt": true, "flowpath/internal/hdr": true, "flowpath/internal/errs": true}
	files, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		name := f.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			first, _, _ := strings.Cut(path, "/")
			if (strings.Contains(first, ".") || first == "flowpath") && !allowed[path] {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}
