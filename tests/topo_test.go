//go:build netns

package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Port types a topology can give flowpathd.
const (
	kindAFPacket = "afpacket"
	kindTAP      = "tap"
)

// host is one host namespace: eth0 faces the router's link of the same
// name as the role ("h1"), on 10.N.0.0/24 and fd00:N::/64.
type host struct {
	role string // "h1"; also the router's link name for it
	ns   string // fpt-h1-PID
	rif  string // the kernel interface flowpathd opens: r-h1 (veth) or t-h1 (tap)
	v4   string // 10.N.0.1
	v6   string // fd00:N::1
	gw4  string // 10.N.0.254, the router's address on this link
	gw6  string // fd00:N::254
}

// topoConfig says what to build.
type topoConfig struct {
	kind  string // kindAFPacket or kindTAP
	hosts int    // 2 or 3
	hash  string // --multipath-hash; "" = the daemon's default
}

// topo is a running router namespace with flowpathd and its hosts.
type topo struct {
	t      *testing.T
	kind   string
	r      string // router namespace
	dir    string
	sock   string
	logf   string
	hosts  []*host
	nss    []string      // namespaces made so far, deleted in close
	daemon *exec.Cmd     // flowpathd, nil once stopped
	exited chan struct{} // closed when flowpathd has exited (and been waited for)
	procs  []*exec.Cmd   // background tools, killed in close
}

// newTopo builds the topology of doc.go with cfg.hosts hosts and returns
// it configured and up; t.Cleanup removes all of it, also when the build
// fails half-way.
func newTopo(t *testing.T, cfg topoConfig) *topo {
	t.Helper()
	needRoot(t)
	if cfg.hosts == 0 {
		cfg.hosts = 2
	}
	pid := os.Getpid()
	tp := &topo{t: t, kind: cfg.kind, r: fmt.Sprintf("fpt-r-%d", pid)}
	tp.dir = t.TempDir() // registered before close, so removed after it
	tp.sock = filepath.Join(tp.dir, "fpd.sock")
	tp.logf = filepath.Join(tp.dir, "flowpathd.log")
	t.Cleanup(tp.close)

	tp.addNS(tp.r)
	for i := 1; i <= cfg.hosts; i++ {
		role := fmt.Sprintf("h%d", i)
		h := &host{
			role: role,
			ns:   fmt.Sprintf("fpt-%s-%d", role, pid),
			v4:   fmt.Sprintf("10.%d.0.1", i),
			v6:   fmt.Sprintf("fd00:%d::1", i),
			gw4:  fmt.Sprintf("10.%d.0.254", i),
			gw6:  fmt.Sprintf("fd00:%d::254", i),
		}
		tp.addNS(h.ns)
		if cfg.kind == kindTAP {
			h.rif = "t-" + role
		} else {
			h.rif = "r-" + role
			tp.must("ip", "link", "add", "eth0", "netns", h.ns, "type", "veth", "peer", "name", h.rif, "netns", tp.r)
			// The kernel of the router namespace must stay out of the way:
			// no IPv6 on the ports flowpathd owns (it would answer ND and
			// send its own router solicitations).
			tp.must("ip", "netns", "exec", tp.r, "sysctl", "-qw", "net.ipv6.conf."+h.rif+".disable_ipv6=1")
			tp.must("ip", "-n", tp.r, "link", "set", h.rif, "up")
		}
		tp.hosts = append(tp.hosts, h)
	}
	tp.startDaemon(cfg.hash)
	for _, h := range tp.hosts {
		tp.fpctlOK("link", "add", h.role, "type", cfg.kind, "ifname", h.rif)
		if cfg.kind == kindTAP {
			// flowpathd made the TAP in its own namespace; the host end
			// of the wire belongs in the host namespace.
			tp.must("ip", "-n", tp.r, "link", "set", h.rif, "netns", h.ns)
			tp.must("ip", "-n", h.ns, "link", "set", h.rif, "name", "eth0")
		}
		tp.fpctlOK("link", "set", h.role, "up")
		tp.fpctlOK("addr", "add", h.gw4+"/24", "dev", h.role)
		tp.fpctlOK("addr", "add", h.gw6+"/64", "dev", h.role)

		tp.must("ip", "-n", h.ns, "addr", "add", h.v4+"/24", "dev", "eth0")
		tp.must("ip", "-n", h.ns, "addr", "add", h.v6+"/64", "dev", "eth0", "nodad")
		tp.must("ip", "-n", h.ns, "link", "set", "eth0", "up")
		tp.must("ip", "-n", h.ns, "route", "add", "default", "via", h.gw4)
		tp.must("ip", "-n", h.ns, "-6", "route", "add", "default", "via", h.gw6)
	}
	return tp
}

func (tp *topo) host(role string) *host {
	for _, h := range tp.hosts {
		if h.role == role {
			return h
		}
	}
	tp.t.Fatalf("no host %s", role)
	return nil
}

func (tp *topo) addNS(ns string) {
	tp.t.Helper()
	tp.must("ip", "netns", "add", ns)
	tp.nss = append(tp.nss, ns)
	tp.must("ip", "-n", ns, "link", "set", "lo", "up")
}

// startDaemon runs flowpathd in the router namespace and waits until it
// answers on its socket.
func (tp *topo) startDaemon(hash string) {
	tp.t.Helper()
	logFile, err := os.Create(tp.logf)
	if err != nil {
		tp.t.Fatal(err)
	}
	defer logFile.Close() // the child has its own descriptor
	args := []string{"netns", "exec", tp.r, flowpathd, "--socket", tp.sock}
	if hash != "" {
		args = append(args, "--multipath-hash", hash)
	}
	// ip netns exec execs flowpathd in place: the PID is the daemon's.
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		tp.t.Fatalf("start flowpathd: %v", err)
	}
	tp.daemon = cmd
	tp.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); close(tp.exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, _, code := tp.fpctl("link", "show"); code == 0 {
			return
		}
		select {
		case <-tp.exited:
			tp.t.Fatalf("flowpathd exited at start (%v):\n%s", cmd.ProcessState, tp.daemonLog())
		default:
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("flowpathd does not answer on %s:\n%s", tp.sock, tp.daemonLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (tp *topo) daemonLog() string {
	b, _ := os.ReadFile(tp.logf)
	return string(b)
}

// stopDaemon sends SIGTERM and waits; SIGKILL after 5 s. It returns the
// exit status: -1 if it had to be killed, 0 if it was not running or had
// already exited (startDaemon reported that).
func (tp *topo) stopDaemon() int {
	cmd := tp.daemon
	if cmd == nil {
		return 0
	}
	tp.daemon = nil
	select {
	case <-tp.exited:
		return 0
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tp.exited:
		return cmd.ProcessState.ExitCode()
	case <-time.After(5 * time.Second):
		tp.t.Errorf("flowpathd (pid %d) ignored SIGTERM for 5 s; killing it", cmd.Process.Pid)
		_ = cmd.Process.Kill()
		<-tp.exited
		return -1
	}
}

// close removes everything newTopo and the test made: tools first, then
// the daemon, then whatever still runs in our namespaces, then those.
func (tp *topo) close() {
	for _, c := range tp.procs {
		stopProc(c)
	}
	tp.procs = nil
	code := tp.stopDaemon()
	if code != 0 {
		tp.t.Errorf("flowpathd exited with status %d after SIGTERM", code)
	}
	if tp.t.Failed() {
		tp.t.Logf("flowpathd log:\n%s", tp.daemonLog())
	}
	for _, ns := range tp.nss {
		killNSProcs(ns)
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			tp.t.Errorf("ip netns del %s: %v %s", ns, err, out)
		}
	}
	tp.nss = nil
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

// must runs argv (a setup step) and fails the test if it fails.
func (tp *topo) must(argv ...string) string {
	tp.t.Helper()
	out, err := run(20*time.Second, argv...)
	if err != nil {
		tp.t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return out
}

// in runs argv in namespace ns.
func (tp *topo) in(ns string, timeout time.Duration, argv ...string) (string, error) {
	return run(timeout, append([]string{"ip", "netns", "exec", ns}, argv...)...)
}

// background starts argv in ns; close stops it. Output goes to out if
// not nil.
func (tp *topo) background(ns string, out *syncBuffer, argv ...string) *exec.Cmd {
	tp.t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	if out != nil {
		cmd.Stdout, cmd.Stderr = out, out
	}
	if err := cmd.Start(); err != nil {
		tp.t.Fatalf("start %v: %v", argv, err)
	}
	tp.procs = append(tp.procs, cmd)
	return cmd
}

// fpctl runs fpctl against this topology's daemon. fpctl reaches the
// daemon through the socket's path, so it runs in our own namespace.
func (tp *topo) fpctl(args ...string) (stdout, stderr string, code int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fpctlBin, append([]string{"--socket", tp.sock}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		code = -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
	}
	return o.String(), e.String(), code
}

// fpctlOK runs fpctl and fails the test unless it succeeds.
func (tp *topo) fpctlOK(args ...string) string {
	tp.t.Helper()
	out, errOut, code := tp.fpctl(args...)
	if code != 0 {
		tp.t.Fatalf("fpctl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fpctlJSON runs fpctl -j and decodes its output into v.
func (tp *topo) fpctlJSON(v any, args ...string) {
	tp.t.Helper()
	out := tp.fpctlOK(append([]string{"-j"}, args...)...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		tp.t.Fatalf("fpctl -j %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// ping runs ping in h's namespace; it returns the output and whether ping
// exited 0 (every reply came back).
func (tp *topo) ping(h *host, args ...string) (string, bool) {
	out, err := tp.in(h.ns, 20*time.Second, append([]string{"ping", "-n"}, args...)...)
	return out, err == nil
}

// hostMAC is the MAC of eth0 in h.
func (tp *topo) hostMAC(h *host) string {
	tp.t.Helper()
	var l []struct {
		Address string `json:"address"`
	}
	out := tp.must("ip", "-n", h.ns, "-j", "link", "show", "dev", "eth0")
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		tp.t.Fatalf("ip -j link show in %s: %v %s", h.ns, err, out)
	}
	return l[0].Address
}

// linkInfo is the part of fpctl -j link show the tests read.
type linkInfo struct {
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	IfName  string `json:"ifname"`
	Address string `json:"address"`
	MTU     int    `json:"mtu"`
	Stats   *struct {
		RxPackets uint64            `json:"rx_packets"`
		TxPackets uint64            `json:"tx_packets"`
		TxBytes   uint64            `json:"tx_bytes"`
		Drops     map[string]uint64 `json:"drops"`
	} `json:"stats"`
}

// link is fpctl -j link show NAME.
func (tp *topo) link(name string) linkInfo {
	tp.t.Helper()
	var l []linkInfo
	tp.fpctlJSON(&l, "link", "show", name)
	if len(l) != 1 || l[0].Name != name || l[0].Stats == nil {
		tp.t.Fatalf("fpctl -j link show %s: %+v", name, l)
	}
	return l[0]
}

// kinds runs f as one subtest per port type.
func kinds(t *testing.T, f func(t *testing.T, kind string), list ...string) {
	for _, k := range list {
		t.Run(k, func(t *testing.T) { f(t, k) })
	}
}

// bothKinds are the port types the marked tests of the brief run on.
var bothKinds = []string{kindAFPacket, kindTAP}
