//go:build netns

package tests

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
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
	kind  string   // kindAFPacket or kindTAP
	hosts int      // 2 or 3
	hash  string   // --multipath-hash; "" = the daemon's default
	flags []string // more flowpathd flags
}

// topo is a running router namespace with flowpathd and its hosts.
type topo struct {
	nsSet
	kind   string
	r      string // router namespace
	dir    string
	hosts  []*host
	daemon *fpd // flowpathd, nil once stopped
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
	tp := &topo{nsSet: nsSet{t: t}, kind: cfg.kind, r: fmt.Sprintf("fpt-r-%d", pid)}
	tp.dir = t.TempDir() // registered before close, so removed after it
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
	tp.startDaemon(cfg.hash, cfg.flags...)
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

// startDaemon runs flowpathd in the router namespace and waits until it
// answers on its socket.
func (tp *topo) startDaemon(hash string, flags ...string) {
	tp.t.Helper()
	if hash != "" {
		flags = append(flags, "--multipath-hash", hash)
	}
	tp.daemon = startFpd(tp.t, tp.dir, tp.r, flags...)
	tp.daemon.waitAnswering()
}

// stopDaemon stops flowpathd and returns its exit status: -1 if it had
// to be killed, 0 if it was not running or had already exited
// (startDaemon reported that).
func (tp *topo) stopDaemon() int {
	d := tp.daemon
	if d == nil {
		return 0
	}
	tp.daemon = nil
	if d.hasExited() {
		return 0
	}
	return d.stop()
}

// close removes everything newTopo and the test made: tools first, then
// the daemon, then whatever still runs in our namespaces, then those.
func (tp *topo) close() {
	tp.stopProcs()
	d := tp.daemon
	if code := tp.stopDaemon(); code != 0 {
		tp.t.Errorf("flowpathd exited with status %d after SIGTERM", code)
	}
	if d != nil && tp.t.Failed() {
		tp.t.Logf("flowpathd log:\n%s", d.log())
	}
	tp.delNamespaces()
}

// fpctl runs fpctl against this topology's daemon.
func (tp *topo) fpctl(args ...string) (stdout, stderr string, code int) {
	return tp.daemon.fpctl(args...)
}

// fpctlOK runs fpctl and fails the test unless it succeeds.
func (tp *topo) fpctlOK(args ...string) string {
	tp.t.Helper()
	return tp.daemon.ctl(args...)
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
	return tp.mac(h.ns, "eth0")
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
