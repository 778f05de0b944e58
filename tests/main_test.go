//go:build netns

package tests

import (
	"flowpath/internal/sys/nstest"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Set by TestMain: where the binaries are, and why everything is skipped
// (empty when the suite can run).
var (
	binDir     string
	flowpathd  string
	fpctlBin   string
	skipReason string
	buildErr   string
)

// tools the suite runs; a missing one skips everything rather than failing.
var tools = []string{"ip", "ping", "iperf3", "tshark", "ss"}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Geteuid() != 0 {
		skipReason = "namespace tests need root"
		return m.Run()
	}
	var missing []string
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		skipReason = "missing tools: " + strings.Join(missing, " ")
		return m.Run()
	}
	if err := nstest.NetlinkUsable(); err != nil {
		skipReason = err.Error()
		fmt.Fprintln(os.Stderr, "tests:", skipReason)
		return m.Run()
	}
	if dir := os.Getenv("FLOWPATH_BIN"); dir != "" {
		binDir = dir
	} else {
		dir, err := os.MkdirTemp("", "fpt-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binDir = dir
		if out, err := build(dir); err != nil {
			// Every test fails with this rather than the run dying
			// silently: the output says what did not compile.
			buildErr = fmt.Sprintf("go build: %v\n%s", err, out)
		}
	}
	flowpathd = filepath.Join(binDir, "flowpathd")
	fpctlBin = filepath.Join(binDir, "fpctl")
	return m.Run()
}

// build compiles the daemon and the CLI of the module this package sits in.
func build(dir string) ([]byte, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-o", dir+"/", "./cmd/flowpathd", "./cmd/fpctl")
	cmd.Dir = ".." // the module root: this package is <root>/tests
	return cmd.CombinedOutput()
}

// needRoot skips or fails t when the suite cannot run here.
func needRoot(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if buildErr != "" {
		t.Fatal(buildErr)
	}
}
