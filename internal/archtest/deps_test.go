package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "flowpath/"

// deps lists the packages pkg imports, directly or not.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// imports lists what the packages under pkg import directly.
func imports(t *testing.T, pattern string) map[string][]string {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", mod+pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, list, _ := strings.Cut(line, ":")
		m[name] = strings.Fields(list)
	}
	return m
}

func isStd(p string) bool {
	return !strings.Contains(strings.Split(p, "/")[0], ".") && !strings.HasPrefix(p, "flowpath")
}

func TestHeaderAndPacketUseStdlibOnly(t *testing.T) {
	for _, pkg := range []string{"internal/hdr", "internal/pkt"} {
		for _, d := range deps(t, pkg) {
			if !isStd(d) && d != mod+pkg {
				t.Errorf("%s depends on %s; it may use the standard library only", pkg, d)
			}
		}
	}
}

func TestCorePackagesDoNotReachUp(t *testing.T) {
	forbidden := []string{"internal/dataplane", "internal/port", "internal/control", "api"}
	for _, pkg := range []string{"internal/fib", "internal/neigh", "internal/gso", "internal/tunnel", "internal/fdb", "internal/reasm"} {
		for _, d := range deps(t, pkg) {
			for _, f := range forbidden {
				if d == mod+f || strings.HasPrefix(d, mod+f+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}

func TestDataplaneNamesNoConcretePort(t *testing.T) {
	for _, d := range deps(t, "internal/dataplane") {
		if strings.HasPrefix(d, mod+"internal/port/") {
			t.Errorf("dataplane depends on the concrete port %s; it must use port.Port only", d)
		}
		if d == mod+"internal/control" || d == mod+"api" {
			t.Errorf("dataplane depends on %s", d)
		}
	}
}

func TestControlNamesNoConcretePort(t *testing.T) {
	for _, d := range deps(t, "internal/control") {
		if strings.HasPrefix(d, mod+"internal/port/") {
			t.Errorf("control depends on the concrete port %s; flowpathd wires ports", d)
		}
	}
}

func TestFpctlImportsAPIOnly(t *testing.T) {
	for _, d := range deps(t, "cmd/fpctl") {
		if strings.HasPrefix(d, mod) && d != mod+"api" && d != mod+"cmd/fpctl" {
			t.Errorf("fpctl depends on %s; it may import api only", d)
		}
	}
}

func TestOnlySysImportsUnix(t *testing.T) {
	for pkg, list := range imports(t, "...") {
		for _, imp := range list {
			if imp == "golang.org/x/sys/unix" && pkg != mod+"internal/sys" {
				t.Errorf("%s imports golang.org/x/sys/unix; only internal/sys may", pkg)
			}
		}
	}
}

func TestEveryPackageHasDocGo(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.ImportPath}} {{.Dir}} {{join .GoFiles \" \"}}", mod+"...").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], mod+"cmd/") {
			continue // commands document themselves in main.go / doc.go
		}
		has := false
		for _, g := range f[2:] {
			has = has || g == "doc.go"
		}
		if !has {
			t.Errorf("%s has no doc.go", f[0])
		}
	}
}
