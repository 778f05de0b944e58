//go:build netns

package tests

import (
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

// TestECMP: a two-path route to 10.9.0.0/24 via h2 and h3, which both
// own 10.9.0.1. Sixteen UDP flows from h1 that differ only in their source
// port spread over both links with --multipath-hash l4, and all take one
// link with l3. Each flow must go exactly where fpctl route get (the same
// flow, iif h1) says it goes: the control plane and the packet path agree.
func TestECMP(t *testing.T) {
	kinds(t, func(t *testing.T, kind string) {
		for _, hash := range []string{"l4", "l3"} {
			t.Run(hash, func(t *testing.T) { testECMP(t, kind, hash) })
		}
	}, bothKinds...)
}

const (
	ecmpFlows   = 16
	ecmpPackets = 100 // per flow
	ecmpSport   = 40000
	ecmpDport   = 9
	ecmpDst     = "10.9.0.1"
)

func testECMP(t *testing.T, kind, hash string) {
	tp := newTopo(t, topoConfig{kind: kind, hosts: 3, hash: hash})
	h1, h2, h3 := tp.host("h1"), tp.host("h2"), tp.host("h3")
	for _, h := range []*host{h2, h3} {
		tp.must("ip", "-n", h.ns, "addr", "add", ecmpDst+"/32", "dev", "lo")
		// The router must know both next hops before the flood, so no
		// first packet waits for ARP.
		if out, ok := tp.ping(h1, "-c", "1", "-W", "2", h.v4); !ok {
			t.Fatalf("ping %s:\n%s", h.v4, out)
		}
	}
	tp.fpctlOK("route", "add", "10.9.0.0/24", "nexthop", "via", h2.v4, "dev", "h2", "nexthop", "via", h3.v4, "dev", "h3")

	// Where does each flow go, according to the control plane?
	want := map[string]uint64{}
	for i := 0; i < ecmpFlows; i++ {
		var res []struct {
			Dev string `json:"dev"`
		}
		tp.fpctlJSON(&res, "route", "get", ecmpDst, "from", h1.v4, "iif", "h1",
			"ipproto", "udp", "sport", fmt.Sprint(ecmpSport+i), "dport", fmt.Sprint(ecmpDport))
		if len(res) != 1 || (res[0].Dev != "h2" && res[0].Dev != "h3") {
			t.Fatalf("route get for flow %d: %+v", i, res)
		}
		want[res[0].Dev] += ecmpPackets
	}
	t.Logf("hash %s: route get sends %d packets via h2, %d via h3", hash, want["h2"], want["h3"])

	before := map[string]uint64{"h2": tp.link("h2").Stats.TxPackets, "h3": tp.link("h3").Stats.TxPackets}
	hostBefore := map[string]uint64{"h2": tp.hostRxPackets(h2), "h3": tp.hostRxPackets(h3)}
	if err := sendUDPFlows(h1.ns, ecmpDst, ecmpDport, ecmpSport, ecmpFlows, ecmpPackets); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the router drain its queues
	got, arrived := map[string]uint64{}, map[string]uint64{}
	for _, h := range []*host{h2, h3} {
		got[h.role] = tp.link(h.role).Stats.TxPackets - before[h.role]
		arrived[h.role] = tp.hostRxPackets(h) - hostBefore[h.role]
	}
	t.Logf("hash %s: tx grew by %d packets on h2, %d on h3; the hosts received %d and %d",
		hash, got["h2"], got["h3"], arrived["h2"], arrived["h3"])

	// A few extra frames (ARP, ND) may go out too; a lost packet or a
	// flow on the wrong link shows up as a difference of ~100.
	for _, l := range []string{"h2", "h3"} {
		if got[l] < want[l]*98/100 || got[l] > want[l]+10 {
			t.Errorf("hash %s: link %s sent %d packets, route get predicts %d", hash, l, got[l], want[l])
		}
		// And the counter tells the truth: the host's kernel saw them.
		if arrived[l] < want[l]*98/100 || arrived[l] > want[l]+10 {
			t.Errorf("hash %s: host %s received %d packets, route get predicts %d", hash, l, arrived[l], want[l])
		}
	}
	switch hash {
	case "l4":
		// 16 flows with random-looking hashes: each link gets some (one
		// link getting none has probability 2^-15).
		if want["h2"] == 0 || want["h3"] == 0 {
			t.Errorf("l4 hash put all %d flows on one link: %v", ecmpFlows, want)
		}
	case "l3":
		// The flows differ only in ports, which l3 ignores.
		if want["h2"] != 0 && want["h3"] != 0 {
			t.Errorf("l3 hash split flows that differ only in ports: %v", want)
		}
	}
}

// hostRxPackets is the kernel's receive counter of eth0 in h.
func (tp *topo) hostRxPackets(h *host) uint64 {
	tp.t.Helper()
	var l []struct {
		Stats64 struct {
			Rx struct {
				Packets uint64 `json:"packets"`
			} `json:"rx"`
		} `json:"stats64"`
	}
	out := tp.must("ip", "-n", h.ns, "-s", "-j", "link", "show", "dev", "eth0")
	if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
		tp.t.Fatalf("ip -s -j link show in %s: %v %s", h.ns, err, out)
	}
	return l[0].Stats64.Rx.Packets
}

// sendUDPFlows sends packets datagrams on each of flows UDP flows from
// namespace ns to dst:dport, flow i from source port sport+i, interleaved
// and paced so no queue overflows. The sockets are made inside ns (a
// socket stays in the namespace it was created in), then used from here.
func sendUDPFlows(ns, dst string, dport, sport, flows, packets int) error {
	conns := make([]*net.UDPConn, 0, flows)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	errc := make(chan error, 1)
	go func() {
		// setns applies to the OS thread: keep this goroutine on it, and if
		// the switch back fails never hand the thread back to the runtime
		// (it ends with the goroutine).
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		target, err := netns.GetFromName(ns)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			errc <- err
			return
		}
		var openErr error
		for i := 0; i < flows && openErr == nil; i++ {
			// Unconnected sockets: the ICMP port unreachable the hosts
			// send back must not turn into write errors.
			c, err := net.ListenUDP("udp4", &net.UDPAddr{Port: sport + i})
			if err != nil {
				openErr = err
				break
			}
			conns = append(conns, c)
		}
		if err := netns.Set(orig); err != nil {
			errc <- fmt.Errorf("back to own namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- openErr
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("udp sockets in %s: %w", ns, err)
	}
	to := &net.UDPAddr{IP: net.ParseIP(dst), Port: dport}
	payload := make([]byte, 64)
	for n := 0; n < packets; n++ {
		for i, c := range conns {
			if _, err := c.WriteToUDP(payload, to); err != nil {
				return fmt.Errorf("flow %d packet %d: %w", i, n, err)
			}
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}
