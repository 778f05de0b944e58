//go:build netns

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// nsSet is what every topology of this package owns: the namespaces it
// made and the tools it started in them. topo and tunNet embed it; their
// close calls stopProcs and delNamespaces in the order they need, so that
// nothing a test made outlives it.
type nsSet struct {
	t     *testing.T
	nss   []string    // namespaces made so far, deleted by delNamespaces
	procs []*exec.Cmd // background tools, stopped by stopProcs
}

// addNS makes namespace ns (an fpt- name) with its loopback up.
func (s *nsSet) addNS(ns string) {
	s.t.Helper()
	s.must("ip", "netns", "add", ns)
	s.nss = append(s.nss, ns)
	s.must("ip", "-n", ns, "link", "set", "lo", "up")
}

// must runs argv (a setup step) and fails the test if it fails.
func (s *nsSet) must(argv ...string) string {
	s.t.Helper()
	out, err := run(20*time.Second, argv...)
	if err != nil {
		s.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// in runs argv in namespace ns.
func (s *nsSet) in(ns string, timeout time.Duration, argv ...string) (string, error) {
	return run(timeout, append([]string{"ip", "netns", "exec", ns}, argv...)...)
}

// background starts argv in ns; stopProcs stops it. Its stdout and
// stderr go to the buffers given (the same one for both is fine), or
// nowhere where nil.
func (s *nsSet) background(ns string, stdout, stderr *syncBuffer, argv ...string) *exec.Cmd {
	s.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	// (Checked one by one: a nil *syncBuffer in an io.Writer is not nil.)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if stderr != nil {
		cmd.Stderr = stderr
	}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start %v: %v", argv, err)
	}
	s.procs = append(s.procs, cmd)
	return cmd
}

// stopProcs ends every background tool, by PID.
func (s *nsSet) stopProcs() {
	for _, c := range s.procs {
		stopProc(c)
	}
	s.procs = nil
}

// delNamespaces kills, by PID, whatever still runs in the namespaces and
// deletes them (their veths go with them).
func (s *nsSet) delNamespaces() {
	for _, ns := range s.nss {
		killNSProcs(ns)
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			s.t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	}
	s.nss = nil
}

// mac is the MAC of interface ifname in ns.
func (s *nsSet) mac(ns, ifname string) string {
	s.t.Helper()
	var l []struct {
		Address string `json:"address"`
	}
	out := s.must("ip", "-n", ns, "-j", "link", "show", "dev", ifname)
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		s.t.Fatalf("ip -j link show %s in %s: %v %s", ifname, ns, err, out)
	}
	return l[0].Address
}

// iperfServer starts a one-shot iperf3 server in ns and waits until it
// listens; stopProcs ends it if no client came.
func (s *nsSet) iperfServer(ns string) *exec.Cmd {
	s.t.Helper()
	var log syncBuffer
	cmd := s.background(ns, &log, &log, "iperf3", "-s", "-1", "-p", "5201")
	for i := 0; i < 50; i++ {
		out, _ := s.in(ns, 5*time.Second, "ss", "-Hltn", "sport", "= :5201")
		if strings.Contains(out, "5201") {
			return cmd
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("iperf3 server in %s does not listen:\n%s", ns, log.String())
	return nil
}

// iperfReport is the part of iperf3 -J's report the tests read.
type iperfReport struct {
	Error string `json:"error"`
	End   struct {
		SumReceived struct {
			Bytes         uint64  `json:"bytes"`
			BitsPerSecond float64 `json:"bits_per_second"`
		} `json:"sum_received"`
		SumSent struct {
			Retransmits int `json:"retransmits"`
		} `json:"sum_sent"`
	} `json:"end"`
}

// iperfClient runs one iperf3 TCP stream from ns to addr (port 5201, where
// iperfServer listens) for secs seconds, with the extra iperf3 arguments
// given, and decodes its report; ok is false when iperf3 failed. out is
// iperf3's output either way, for failure messages.
func (s *nsSet) iperfClient(ns, addr string, secs int, extra ...string) (r iperfReport, out string, ok bool) {
	argv := append([]string{"iperf3", "-c", addr, "-p", "5201", "-t", strconv.Itoa(secs), "-J"}, extra...)
	out, err := s.in(ns, time.Duration(secs+15)*time.Second, argv...)
	jerr := json.Unmarshal([]byte(out), &r)
	return r, out, err == nil && jerr == nil && r.Error == ""
}

// stopProc ends a background tool by PID: SIGTERM, then SIGKILL.
func stopProc(c *exec.Cmd) {
	if c.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	_ = c.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = c.Process.Kill()
		<-done
	}
}

// killNSProcs kills, by PID, anything left running in ns.
func killNSProcs(ns string) {
	pids := func() []int {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		var l []int
		for _, f := range strings.Fields(string(out)) {
			if p, err := strconv.Atoi(f); err == nil && p > 1 {
				l = append(l, p)
			}
		}
		return l
	}
	for i, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		l := pids()
		if len(l) == 0 {
			return
		}
		for _, p := range l {
			_ = syscall.Kill(p, sig)
		}
		if i == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// run executes argv with a time limit and returns its combined output.
func run(timeout time.Duration, argv ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s: timed out after %v (%v)", strings.Join(argv, " "), timeout, err)
	}
	return string(out), err
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
