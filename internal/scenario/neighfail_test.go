package scenario

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/internal/dataplane"
	"flowpath/internal/hdr"
)

// fastNeigh makes resolution give up after 3 solicitations 10 ms apart.
func fastNeigh(c *dataplane.Config) {
	c.Neigh.Retrans = 10 * time.Millisecond
	c.Neigh.McastSolicit = 3
	c.Neigh.UcastSolicit = 3
}

// solicitations takes the frames the router sent on a host's link and
// checks they are all solicitations for target, returning how many.
func solicitations(t *testing.T, hs *host, target netip.Addr) int {
	t.Helper()
	n := 0
	for _, f := range hs.port.TakeSent(0) {
		p := gopacket.NewPacket(f.Data, layers.LayerTypeEthernet, gopacket.Default)
		if target.Is4() {
			a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP)
			if !ok || a.Operation != layers.ARPRequest || addrOf(a.DstProtAddress) != target ||
				addrOf(a.SourceProtAddress).String() != "10.2.0.254" || [6]byte(a.SourceHwAddress) != hs.rmac ||
				[6]byte(ethOf(p).DstMAC) != hdr.BroadcastMAC {
				t.Fatalf("want a broadcast ARP request for %s, got %v", target, p)
			}
		} else {
			ns, ok := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
			ip := ip6Of(t, p)
			if !ok || addrOf(ns.TargetAddress) != target || addrOf(ip.DstIP) != hdr.SolicitedNodeMulticast(target) ||
				ip.HopLimit != 255 {
				t.Fatalf("want an NS for %s, got %v", target, p)
			}
			checkSums(t, p.Data())
		}
		n++
	}
	return n
}

func TestNeighbourFailure(t *testing.T) {
	h := newHarnessWith(t, false, fastNeigh)
	h.addLink("r1", "10.1.0.254/24", "fd00:1::254/64")
	h.addLink("r2", "10.2.0.254/24", "fd00:2::254/64")
	h1 := h.host("r1", [6]byte{2, 0, 0, 0, 1, 1}, "10.1.0.1", "fd00:1::1").permanent()
	h2 := h.host("r2", [6]byte{2, 0, 0, 0, 2, 1}, "10.2.0.1", "fd00:2::1")

	ghost := netip.MustParseAddr("10.2.0.99")
	f := h1.udp4(ghost.String(), 1, 2, 64, true, []byte("to nobody"))
	start := time.Now()
	h1.inject(f)
	e := h1.recvICMPError(false)
	took := time.Since(start)
	// The kernel quotes the packet as it was when the link failed: TTL
	// already decremented.
	sent := append([]byte(nil), f...)
	ip := hdr.IPv4(sent[14:])
	ip.DecTTL()
	expectError(t, e, "10.1.0.254", 3, 1, sent)
	if took < 20*time.Millisecond {
		t.Fatalf("host unreachable after %v, before resolution could give up", took)
	}
	h.waitDrop("neighbour_failed", 1)
	if n := solicitations(t, h2, ghost); n != 3 {
		t.Fatalf("%d ARP requests, want 3 (mcast_solicit)", n)
	}
	if s := h.neighState("r2", ghost); !strings.HasPrefix(s, "FAILED") {
		t.Fatalf("neighbour state %q, want FAILED", s)
	}

	ghost6 := netip.MustParseAddr("fd00:2::99")
	g := h1.udp6(ghost6.String(), 1, 2, 64, []byte("to nobody"))
	h1.inject(g)
	e = h1.recvICMPError(true)
	sent = append([]byte(nil), g...)
	hdr.IPv6(sent[14:]).DecHopLimit()
	expectError(t, e, "fd00:1::254", 1, 3, sent)
	h.waitDrop("neighbour_failed", 2)
	if n := solicitations(t, h2, ghost6); n != 3 {
		t.Fatalf("%d neighbour solicitations, want 3", n)
	}
	if d := h.linkStats("r2").Drops["neighbour_failed"]; d != 2 {
		t.Fatalf("r2 neighbour_failed %d, want 2", d)
	}
	h1.quiet()
}

// TestNeighbourQueueReleased checks packets queued while resolving all go
// out, in order, once the neighbour answers.
func TestNeighbourQueueReleased(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	for i := 0; i < 5; i++ {
		h1.inject(h1.udp4("10.2.0.1", uint16(100+i), 2, 64, true, []byte("queued")))
	}
	h2.answerARP()
	for i := 0; i < 5; i++ {
		p := h2.recv()
		u, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if !ok || int(u.SrcPort) != 100+i {
			t.Fatalf("queued packet %d: %v", i, p)
		}
		checkSums(t, p.Data())
	}
	h1.quiet()
	h2.quiet2()
	if d := h.drops()["neighbour_failed"]; d != 0 {
		t.Fatalf("neighbour_failed %d", d)
	}
}
