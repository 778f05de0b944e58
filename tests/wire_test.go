//go:build netns

package tests

import (
	"bytes"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestTshark: what flowpath puts on h2's wire, decoded by tshark. An echo
// request forwarded from h1 carries the router's MAC as source, h2's MAC
// as destination, TTL (hop limit) 63, and checksums tshark finds good.
func TestTshark(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) {
		tp := newTopo(t, topoConfig{kind: kind})
		h1, h2 := tp.host("h1"), tp.host("h2")
		routerMAC := tp.link("h2").Address
		hostMAC := tp.hostMAC(h2)
		// Resolve the neighbours first so the capture holds just the two
		// echo requests.
		for _, a := range []string{h2.v4, h2.v6} {
			if out, ok := tp.ping(h1, "-c", "1", "-W", "2", a); !ok {
				t.Fatalf("ping %s:\n%s", a, out)
			}
		}

		fields := []string{"eth.src", "eth.dst", "ip.src", "ip.ttl", "ipv6.src", "ipv6.hlim",
			"icmp.type", "icmpv6.type", "ip.checksum.status", "icmp.checksum.status", "icmpv6.checksum.status"}
		args := []string{"tshark", "-i", "eth0", "-n", "-l", "-c", "2", "-a", "duration:15",
			"-o", "ip.check_checksum:TRUE",
			"-f", "(icmp and icmp[0] == 8) or (icmp6 and ip6[40] == 128)",
			"-T", "fields", "-E", "separator=,"}
		for _, f := range fields {
			args = append(args, "-e", f)
		}
		var stdout, stderr syncBuffer
		cmd := tp.backgroundSplit(h2.ns, &stdout, &stderr, args...)
		deadline := time.Now().Add(10 * time.Second)
		// tshark says "Capturing on" before dumpcap has its filter in
		// place; this tshark (4.x) also logs "Capture started" once it has.
		for !strings.Contains(stderr.String(), "Capture started") {
			if time.Now().After(deadline) {
				t.Fatalf("tshark does not capture:\n%s", stderr.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		for _, a := range []string{h2.v4, h2.v6} {
			if out, ok := tp.ping(h1, "-c", "1", "-W", "2", a); !ok {
				t.Errorf("ping %s:\n%s", a, out)
			}
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("tshark did not finish; so far:\n%s\n%s", stdout.String(), stderr.String())
		}

		var v4, v6 int
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			f := map[string]string{}
			for i, v := range strings.Split(line, ",") {
				if i < len(fields) {
					f[fields[i]] = v
				}
			}
			if f["eth.src"] != routerMAC || f["eth.dst"] != hostMAC {
				t.Errorf("frame %s -> %s, want router %s -> host %s (%s)", f["eth.src"], f["eth.dst"], routerMAC, hostMAC, line)
			}
			switch {
			case f["icmp.type"] == "8":
				v4++
				// Checksum status 1 is tshark's "Good".
				if f["ip.src"] != h1.v4 || f["ip.ttl"] != "63" || f["ip.checksum.status"] != "1" || f["icmp.checksum.status"] != "1" {
					t.Errorf("IPv4 echo: want src %s ttl 63, good checksums; got %s", h1.v4, line)
				}
			case f["icmpv6.type"] == "128":
				v6++
				if f["ipv6.src"] != h1.v6 || f["ipv6.hlim"] != "63" || f["icmpv6.checksum.status"] != "1" {
					t.Errorf("IPv6 echo: want src %s hop limit 63, good checksum; got %s", h1.v6, line)
				}
			default:
				t.Errorf("unexpected frame: %s", line)
			}
		}
		if v4 != 1 || v6 != 1 {
			t.Errorf("tshark saw %d IPv4 and %d IPv6 echo requests, want 1 each:\n%s\n%s", v4, v6, stdout.String(), stderr.String())
		}
	}, bothKinds...)
}

// backgroundSplit is background with stdout and stderr kept apart.
func (tp *topo) backgroundSplit(ns string, stdout, stderr *syncBuffer, argv ...string) *exec.Cmd {
	tp.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		tp.t.Fatalf("start %v: %v", argv, err)
	}
	tp.procs = append(tp.procs, cmd)
	return cmd
}

// syncBuffer is a bytes.Buffer a child process writes while the test
// reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
