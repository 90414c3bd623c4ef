package main

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ganglion/ganglion/"

// importRules says, for each component, which of our packages it may
// import (directly or not); see "One binary, one process" in DESIGN.md.
// Packages under internal/ may be imported by anyone.
var importRules = map[string][]string{
	"config":     {},
	"storage":    {},
	"roomserver": {"storage"},
	"syncapi":    {"storage", "roomserver"},
	"federation": {"storage", "roomserver"},
	"clientapi":  {"config", "storage", "roomserver", "syncapi", "federation"},
}

// forbiddenModules must never be linked in: they belong to test tools or
// were replaced by our own code.
var forbiddenModules = []string{
	"github.com/matrix-org/complement",
	"github.com/stretchr/testify",
	"github.com/matrix-org/dendrite",
}

// TestImportRules enforces the import rules with `go list -deps`, so that
// the layering cannot rot unnoticed.
func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Deps,Module", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var pkg struct {
			ImportPath string
			Deps       []string
		}
		if err := dec.Decode(&pkg); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(pkg.ImportPath, module) {
			continue
		}
		component := componentOf(pkg.ImportPath)
		allowed, ruled := importRules[component]
		for _, dep := range pkg.Deps {
			for _, bad := range forbiddenModules {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s depends on forbidden %s", pkg.ImportPath, dep)
				}
			}
			if !ruled || !strings.HasPrefix(dep, module) {
				continue
			}
			target := componentOf(dep)
			if target == component || target == "internal" {
				continue
			}
			if !slices.Contains(allowed, target) {
				t.Errorf("%s imports %s: %s may import only %v", pkg.ImportPath, dep, component, allowed)
			}
		}
	}
}

// componentOf returns the top-level folder of one of our packages.
func componentOf(importPath string) string {
	rest := strings.TrimPrefix(importPath, module)
	first, _, _ := strings.Cut(rest, "/")
	return first
}
