//go:build netns

package tests

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tsharkSpec says what one tshark in the background captures.
type tsharkSpec struct {
	ns, iface string
	filter    string        // capture filter (-f)
	count     int           // tshark stops after this many frames ...
	limit     int           // ... or this many seconds (-a duration); rows waits 5 s longer
	settle    time.Duration // how long to wait after "Capture started" before the test sends
	fields    []string      // printed for every frame, every occurrence, outer header first
}

// capture is a tshark running in the background, printing fields.
type capture struct {
	t      *testing.T
	cmd    *exec.Cmd
	fields []string
	limit  time.Duration
	stdout syncBuffer
	stderr syncBuffer
}

// startCapture starts tshark as spec says and returns once the capture
// runs. tshark checks IP, UDP and TCP checksums (status 1 is "Good") and
// decodes UDP ports 4789 and 6081 as VXLAN and Geneve.
func (s *nsSet) startCapture(spec tsharkSpec) *capture {
	s.t.Helper()
	c := &capture{t: s.t, fields: spec.fields, limit: time.Duration(spec.limit+5) * time.Second}
	args := []string{"tshark", "-i", spec.iface, "-n", "-l", "-c", fmt.Sprint(spec.count), "-a", fmt.Sprintf("duration:%d", spec.limit),
		"-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
		"-d", "udp.port==4789,vxlan", "-d", "udp.port==6081,geneve",
		"-f", spec.filter, "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=;"}
	for _, f := range spec.fields {
		args = append(args, "-e", f)
	}
	c.cmd = s.background(spec.ns, &c.stdout, &c.stderr, args...)
	deadline := time.Now().Add(10 * time.Second)
	// tshark 4.x logs "Capture started" once dumpcap has its filter in
	// place ("Capturing on" comes before that).
	for !strings.Contains(c.stderr.String(), "Capture started") {
		if time.Now().After(deadline) {
			s.t.Fatalf("tshark does not capture:\n%s", c.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(spec.settle)
	return c
}

// rows waits for tshark to finish and returns one map per frame, each
// field split into its occurrences (outer header first); field reads
// them.
func (c *capture) rows() []map[string][]string {
	c.t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(c.limit):
		c.t.Fatalf("tshark did not finish; so far:\n%s\n%s", c.stdout.String(), c.stderr.String())
	}
	var rows []map[string][]string
	for _, line := range strings.Split(strings.TrimSpace(c.stdout.String()), "\n") {
		if line == "" {
			continue
		}
		r := map[string][]string{}
		for i, v := range strings.Split(line, "|") {
			if i < len(c.fields) && v != "" {
				r[c.fields[i]] = strings.Split(v, ";")
			}
		}
		rows = append(rows, r)
	}
	return rows
}

// output is what tshark printed, for failure messages.
func (c *capture) output() string { return c.stdout.String() + c.stderr.String() }

// field returns occurrence i of field f in row r, or "".
func field(r map[string][]string, f string, i int) string {
	if v := r[f]; i < len(v) {
		return v[i]
	}
	return ""
}
