package scenario

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
)

// The neighbour manager's ARP request for a neighbour behind a classic
// tunnel device is encapsulated, and its outer packet waits for the
// underlay neighbour like any other: once that resolves, the request
// leaves at once, not with the next retransmission a second later (seen
// between two flowpathd in namespaces: the first ping through a classic
// Geneve or VXLAN device took a second).
//
//	host h (10.11.0.1) ─ r-h [ router ] r-u ─ VTEP 10.100.0.2 (unresolved)
//	                          vx0 vni 100 10.99.0.1/24, station 10.99.0.5 behind the VTEP
func TestTunnelSolicitationWaitsForUnderlay(t *testing.T) {
	c := classicTopo(t, nil)
	h, hh, peer := c.h, c.hh, c.vteps[2].host
	// The VTEP starts unresolved.
	h.do(api.Request{Op: api.OpNeighDel, Neigh: &api.Neigh{Dev: "u", Dst: peer.ip4.String()}})

	hh.send(udp4(hh, "10.99.0.5", 1111, 2222, "behind the tunnel")...)
	peer.answerARP() // the underlay neighbour of the encapsulated request
	start := time.Now()
	fs := peer.port.WaitSent(1, 500*time.Millisecond)
	if len(fs) == 0 {
		t.Fatal("no encapsulated ARP request within 500 ms of the underlay neighbour's reply")
	}
	t.Logf("encapsulated ARP request %v after the underlay reply", time.Since(start))
	tp := decodeTun(t, gopacket.NewPacket(fs[0].Data, layers.LayerTypeEthernet, gopacket.Default))
	a, ok := tp.inner.Layer(layers.LayerTypeARP).(*layers.ARP)
	if !ok || a.Operation != layers.ARPRequest || addrOf(a.DstProtAddress) != netip.MustParseAddr("10.99.0.5") ||
		addrOf(tp.ip.DstIP) != peer.ip4 {
		t.Fatalf("want the ARP request for 10.99.0.5 to %v, got %v", peer.ip4, tp.inner)
	}
}
