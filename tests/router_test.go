//go:build netns

package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestPing: IPv4 and IPv6 echo both ways through the router, and to each
// of the router's own addresses from both hosts.
func TestPing(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) {
		tp := newTopo(t, topoConfig{kind: kind})
		h1, h2 := tp.host("h1"), tp.host("h2")
		for _, p := range [][2]*host{{h1, h2}, {h2, h1}} {
			src, dst := p[0], p[1]
			for _, a := range []string{dst.v4, dst.v6} {
				out, ok := tp.ping(src, "-c", "3", "-i", "0.2", "-W", "2", a)
				if !ok || !strings.Contains(out, " 0% packet loss") {
					t.Errorf("%s -> %s: ping lost packets:\n%s", src.role, a, out)
					continue
				}
				// Forwarded once: the kernel's 64 minus the router's hop.
				if !strings.Contains(out, "ttl=63") {
					t.Errorf("%s -> %s: reply without ttl=63:\n%s", src.role, a, out)
				}
			}
			// The router's link-local address on src's link answers too
			// (the reply must leave by the link the request came in on).
			ll := tp.linkLocal(src.role) + "%eth0"
			for _, a := range []string{h1.gw4, h2.gw4, h1.gw6, h2.gw6, ll} {
				out, ok := tp.ping(src, "-c", "2", "-i", "0.2", "-W", "2", a)
				if !ok || !strings.Contains(out, "ttl=64") {
					t.Errorf("%s -> router %s: no answer with ttl=64:\n%s", src.role, a, out)
				}
			}
		}
	}, bothKinds...)
}

// linkLocal is the router's fe80:: address on link name, from fpctl.
func (tp *topo) linkLocal(name string) string {
	tp.t.Helper()
	var addrs []struct {
		Local string `json:"local"`
	}
	tp.fpctlJSON(&addrs, "-6", "addr", "show", "dev", name)
	for _, a := range addrs {
		if strings.HasPrefix(a.Local, "fe80:") {
			return strings.SplitN(a.Local, "/", 2)[0]
		}
	}
	tp.t.Fatalf("link %s has no link-local address: %+v", name, addrs)
	return ""
}

// TestIperfTCP: one TCP stream h1 -> h2 for 3 s must pass 1 Gbit/s.
func TestIperfTCP(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) {
		tp := newTopo(t, topoConfig{kind: kind})
		h1, h2 := tp.host("h1"), tp.host("h2")
		bps, retr, out := tp.iperfTCP(h1, h2, 3)
		if bps < 0 {
			t.Fatalf("iperf3 failed:\n%s", out)
		}
		t.Logf("%s: iperf3 TCP h1 -> h2, 3 s: %.2f Gbit/s, %d retransmits", kind, bps/1e9, retr)
		if bps <= 1e9 {
			t.Errorf("%s: TCP throughput %.2f Gbit/s, want > 1 Gbit/s", kind, bps/1e9)
		}
	}, bothKinds...)
}

// TestFollowSenders: with --follow-senders, a TCP transfer and a flood of
// small datagrams pass, and the worker that received the flood followed
// its sender's CPU and was let go afterwards (stats: CPU -1 is unbound).
func TestFollowSenders(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) { testFollowSenders(t, kind, -1) }, bothKinds...)
}

// TestFollowSendersPinned: the same with --cpus: the worker leaves the
// daemon's CPU to follow the flood and, let go, returns to it; every
// thread of flowpathd is bound to that CPU again afterwards.
func TestFollowSendersPinned(t *testing.T) {
	last := runtime.NumCPU() - 1
	if last < 1 {
		t.Skip("needs two CPUs")
	}
	kinds(t, func(t *testing.T, kind string) { testFollowSenders(t, kind, last) }, kindAFPacket)
}

// testFollowSenders runs flowpathd with --follow-senders, and with
// --cpus PIN when PIN >= 0.
func testFollowSenders(t *testing.T, kind string, pin int) {
	flags := []string{"--follow-senders"}
	if kind == kindAFPacket {
		flags = append(flags, "--afpacket-rx", "ring")
	}
	if pin >= 0 {
		flags = append(flags, "--cpus", strconv.Itoa(pin))
	}
	tp := newTopo(t, topoConfig{kind: kind, flags: flags})
	h1, h2 := tp.host("h1"), tp.host("h2")
	if out, ok := tp.ping(h1, "-c", "2", h2.v4); !ok {
		t.Fatalf("ping:\n%s", out)
	}
	bps, retr, out := tp.iperfTCP(h1, h2, 2)
	if bps <= 1e9 {
		t.Fatalf("TCP %.2f Gbit/s (want > 1):\n%s", bps/1e9, out)
	}
	t.Logf("iperf3 TCP with workers following their senders: %.2f Gbit/s, %d retransmits", bps/1e9, retr)
	tp.iperfServer(h2.ns)
	if _, out, ok := tp.iperfClient(h1.ns, h2.v4, 1, "-u", "-l", "64", "-b", "0"); !ok {
		t.Fatalf("iperf3 UDP:\n%s", out)
	}
	type workerStats struct {
		ID       int    `json:"id"`
		Port     string `json:"port"`
		CPU      int    `json:"cpu"`
		CPUMoves uint64 `json:"cpu_moves"`
	}
	h1Worker := func() workerStats {
		var st struct {
			Workers []workerStats `json:"workers"`
		}
		tp.fpctlJSON(&st, "stats")
		for _, w := range st.Workers {
			if w.Port == "h1" {
				return w
			}
		}
		t.Fatalf("no worker for h1: %+v", st.Workers)
		return workerStats{}
	}
	// The flood came in on h1: its worker moved to the sender's CPU at
	// least once, and is let go once the flood has stopped (10 quiet
	// looks; an idle worker looks every 50 ms).
	w := h1Worker()
	for deadline := time.Now().Add(3 * time.Second); w.CPU != -1 && time.Now().Before(deadline); w = h1Worker() {
		time.Sleep(100 * time.Millisecond)
	}
	if w.CPUMoves == 0 || w.CPU != -1 {
		t.Errorf("worker %d (h1): cpu %d after %d moves; want moved and let go", w.ID, w.CPU, w.CPUMoves)
	}
	t.Logf("h1's worker moved %d times", w.CPUMoves)
	if pin >= 0 {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", tp.daemon.cmd.Process.Pid))
		if err != nil || len(tasks) == 0 {
			t.Fatalf("flowpathd's threads: %v", err)
		}
		for _, f := range tasks {
			b, err := os.ReadFile(f)
			if err != nil {
				continue // the thread ended
			}
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok && strings.TrimSpace(v) != strconv.Itoa(pin) {
					t.Errorf("%s: %s, want CPU %d only after the worker was let go", f, l, pin)
				}
			}
		}
	}
}

// iperfTCP runs one iperf3 TCP stream from src to dst for secs seconds
// and returns the receiver's bits per second and the sender's
// retransmits; bps is -1 on failure, with iperf3's output.
func (tp *topo) iperfTCP(src, dst *host, secs int) (bps float64, retransmits int, out string) {
	tp.t.Helper()
	tp.iperfServer(dst.ns)
	r, out, ok := tp.iperfClient(src.ns, dst.v4, secs)
	if !ok {
		return -1, 0, out
	}
	return r.End.SumReceived.BitsPerSecond, r.End.SumSent.Retransmits, out
}

// TestTTLExceeded: a packet that arrives with TTL 1 (hop limit 1) gets
// time exceeded from the router's address on the way in.
func TestTTLExceeded(t *testing.T) { kinds(t, testTTLExceeded, bothKinds...) }

func testTTLExceeded(t *testing.T, kind string) {
	tp := newTopo(t, topoConfig{kind: kind})
	h1, h2 := tp.host("h1"), tp.host("h2")
	out, _ := tp.ping(h1, "-t", "1", "-c", "1", "-W", "2", h2.v4)
	if !strings.Contains(out, "From "+h1.gw4) || !strings.Contains(out, "Time to live exceeded") {
		t.Errorf("ping -t 1 %s: want Time to live exceeded from %s:\n%s", h2.v4, h1.gw4, out)
	}
	out, _ = tp.ping(h1, "-6", "-t", "1", "-c", "1", "-W", "2", h2.v6)
	if !strings.Contains(out, "From "+h1.gw6) || !strings.Contains(out, "Time exceeded: Hop limit") {
		t.Errorf("ping -6 -t 1 %s: want Time exceeded: Hop limit from %s:\n%s", h2.v6, h1.gw6, out)
	}
	// TTL 2 is enough to cross one router.
	if out, ok := tp.ping(h1, "-t", "2", "-c", "1", "-W", "2", h2.v4); !ok {
		t.Errorf("ping -t 2 %s failed:\n%s", h2.v4, out)
	}
}

// TestMTU: a smaller MTU on the way out. DF packets that do not fit get
// frag needed (IPv4) or packet too big (IPv6) with the MTU; IPv4 packets
// without DF are fragmented by the router.
func TestMTU(t *testing.T) { kinds(t, testMTU, bothKinds...) }

func testMTU(t *testing.T, kind string) {
	tp := newTopo(t, topoConfig{kind: kind})
	h1, h2 := tp.host("h1"), tp.host("h2")
	tp.fpctlOK("link", "set", "h2", "mtu", "1400")
	// The whole h2 link runs at 1400: a veth drops frames longer than the
	// receiving end's MTU, so both kernel ends must agree with flowpathd
	// (h2 then fragments its 1500-byte echo replies itself).
	if kind == kindAFPacket {
		tp.must("ip", "-n", tp.r, "link", "set", h2.rif, "mtu", "1400")
	}
	tp.must("ip", "-n", h2.ns, "link", "set", "eth0", "mtu", "1400") // a TAP's kernel end is h2's eth0
	if l := tp.link("h2"); l.MTU != 1400 {
		t.Errorf("fpctl link show h2: mtu %d, want 1400", l.MTU)
	}

	// First without DF, while h1 knows no path MTU yet and sends 1500
	// bytes whole: only the router can have cut them.
	before := tp.link("h2").Stats.TxPackets
	out, ok := tp.ping(h1, "-M", "dont", "-s", "1472", "-c", "2", "-i", "0.2", "-W", "2", h2.v4)
	if !ok || !strings.Contains(out, "1480 bytes from "+h2.v4) {
		t.Errorf("ping -M dont -s 1472: want replies (router fragments):\n%s", out)
	}
	if sent := tp.link("h2").Stats.TxPackets - before; sent < 4 {
		t.Errorf("h2 tx grew by %d packets for 2 pings of 1500 bytes, want >= 4 (two fragments each)", sent)
	}

	out, _ = tp.ping(h1, "-M", "do", "-s", "1472", "-c", "1", "-W", "2", h2.v4)
	if !strings.Contains(out, "From "+h1.gw4) || !strings.Contains(out, "mtu = 1400") {
		t.Errorf("ping -M do -s 1472: want Frag needed (mtu = 1400) from %s:\n%s", h1.gw4, out)
	}
	// 1372 + 28 = 1400 fits exactly.
	if out, ok := tp.ping(h1, "-M", "do", "-s", "1372", "-c", "1", "-W", "2", h2.v4); !ok {
		t.Errorf("ping -M do -s 1372 (exactly 1400 bytes) failed:\n%s", out)
	}

	out, _ = tp.ping(h1, "-6", "-M", "do", "-s", "1452", "-c", "1", "-W", "2", h2.v6)
	if !strings.Contains(out, "From "+h1.gw6) || !strings.Contains(out, "Packet too big: mtu=1400") {
		t.Errorf("ping -6 -M do -s 1452: want Packet too big: mtu=1400 from %s:\n%s", h1.gw6, out)
	}
	// 1352 + 8 + 40 = 1400.
	if out, ok := tp.ping(h1, "-6", "-s", "1352", "-c", "1", "-W", "2", h2.v6); !ok {
		t.Errorf("ping -6 -s 1352 (exactly 1400 bytes) failed:\n%s", out)
	}
}

// TestUnreachable: unreachable and prohibit routes, no route at all, and
// a neighbour that never answers, get the ICMP errors the kernel sends.
func TestUnreachable(t *testing.T) { kinds(t, testUnreachable, bothKinds...) }

func testUnreachable(t *testing.T, kind string) {
	tp := newTopo(t, topoConfig{kind: kind})
	h1 := tp.host("h1")
	tp.fpctlOK("route", "add", "unreachable", "10.9.0.0/24")
	tp.fpctlOK("route", "add", "prohibit", "10.8.0.0/24")
	tp.fpctlOK("-6", "route", "add", "unreachable", "fd00:9::/64")
	tp.fpctlOK("-6", "route", "add", "prohibit", "fd00:8::/64")
	for _, c := range []struct{ dst, from, want string }{
		{"10.9.0.1", h1.gw4, "Destination Host Unreachable"},
		{"10.8.0.1", h1.gw4, "Packet filtered"},
		{"10.7.0.1", h1.gw4, "Destination Net Unreachable"},
		{"fd00:9::1", h1.gw6, "Destination unreachable: No route"},
		{"fd00:8::1", h1.gw6, "Destination unreachable: Administratively prohibited"},
		{"fd00:7::1", h1.gw6, "Destination unreachable: No route"},
	} {
		out, ok := tp.ping(h1, "-c", "1", "-W", "2", c.dst)
		if ok || !strings.Contains(out, "From "+c.from) || !strings.Contains(out, c.want) {
			t.Errorf("ping %s: want %q from %s:\n%s", c.dst, c.want, c.from, out)
		}
	}

	// A connected destination that never answers ARP / ND: the router
	// gives up after its probes (3 s) and says host (address) unreachable.
	// Both families at once, to wait only once.
	h2 := tp.host("h2")
	type result struct {
		dst, want, out string
	}
	results := make(chan result, 2)
	for _, c := range [][2]string{
		{"10.2.0.99", "Destination Host Unreachable"},
		{"fd00:2::99", "Destination unreachable: Address unreachable"},
	} {
		go func() {
			out, _ := tp.in(h1.ns, 20*time.Second, "ping", "-n", "-c", "1", "-W", "8", c[0])
			results <- result{c[0], c[1], out}
		}()
	}
	for range 2 {
		r := <-results
		if !strings.Contains(r.out, "From ") || !strings.Contains(r.out, r.want) {
			t.Errorf("ping %s (no such host on %s's link): want %q from the router:\n%s", r.dst, h2.role, r.want, r.out)
		}
	}
	var neighs []struct {
		Dst   string `json:"dst"`
		State string `json:"state"`
	}
	tp.fpctlJSON(&neighs, "neigh", "show", "dev", "h2")
	failed := 0
	for _, n := range neighs {
		if (n.Dst == "10.2.0.99" || n.Dst == "fd00:2::99") && n.State == "FAILED" {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("neigh show dev h2: want 10.2.0.99 and fd00:2::99 FAILED: %+v", neighs)
	}

	var st statsJSON
	tp.fpctlJSON(&st, "stats")
	for reason, min := range map[string]uint64{"unreachable_route": 2, "prohibit_route": 2, "no_route": 2} {
		if st.Drops[reason] < min {
			t.Errorf("stats: drops[%s] = %d, want >= %d (all: %v)", reason, st.Drops[reason], min, st.Drops)
		}
	}
}

// statsJSON is the part of fpctl -j stats the tests read.
type statsJSON struct {
	Links []struct {
		Name      string `json:"name"`
		RxPackets uint64 `json:"rx_packets"`
		TxPackets uint64 `json:"tx_packets"`
	} `json:"links"`
	Drops   map[string]uint64 `json:"drops"`
	Workers []struct {
		Port     string `json:"port"`
		Packets  uint64 `json:"packets"`
		PoolSize int    `json:"pool_size"`
	} `json:"workers"`
	Neigh      map[string]uint64 `json:"neigh"`
	Generation uint64            `json:"generation"`
}
