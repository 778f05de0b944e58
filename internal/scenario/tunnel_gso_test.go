package scenario

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"flowpath/api"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// A TCP super-frame into a flow-based Geneve device with options, over an
// IPv4 and an IPv6 underlay, with and without `csum` on the route, through
// an underlay port that takes UDP-tunnel GSO: it leaves as one frame (the
// tunnel offsets past the options, the outer checksum partial when the
// route asks for one and zero otherwise, over IPv6 too, as the kernel's
// metadata mode does), and the datagrams the kernel cuts from it are, byte
// for byte but for the outer IPv4 ID and the device's MAC, what the
// segment-by-segment path sends to a port without offloads.
func TestGeneveTunnelGSOEncap(t *testing.T) {
	const opts = "0x0102:0x01:00010203,0xffff:0x22:0a0b0c0d0e0f1011" // 4 + 12 bytes
	const geneveLen = 8 + 4 + 4 + 4 + 8
	for _, c := range []struct{ v6, csum bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		v6 := c.v6
		t.Run(fmt.Sprintf("ipv6-underlay=%v,csum=%v", v6, c.csum), func(t *testing.T) {
			outerIP := 20
			if v6 {
				outerIP = 40
			}
			var got [2][][]byte
			for i, off := range []port.Offloads{{RxGSO: true, TxGSO: true, TxUSO: true, TxUDPTunnelGSO: true}, {}} {
				h := newHarness(t, false)
				h.offloads = port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true}
				h.addLink("h", "10.11.0.254/24")
				h.offloads = off
				h.addLink("u", "10.100.0.1/24", "fd00:100::1/64")
				h.offloads = port.Offloads{}
				h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "gnv0", Kind: "geneve", Geneve: &api.Geneve{External: true}}})
				up := true
				h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "gnv0", Up: &up}})
				enc := &api.Encap{Type: "ip", ID: 5, Dst: "10.100.0.2", GeneveOpts: opts}
				if v6 {
					enc = &api.Encap{Type: "ip6", ID: 5, Dst: "fd00:100::2", GeneveOpts: opts}
				}
				if c.csum {
					enc.Flags = []string{"csum"}
				}
				h.do(api.Request{Op: api.OpRouteAdd, Route: &api.Route{Dst: "10.13.0.0/24", Via: "10.97.0.2", Dev: "gnv0",
					Onlink: true, Encap: enc}})
				h.neigh("gnv0", netip.MustParseAddr("10.97.0.2"), innerMAC(2))
				hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
				peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "10.100.0.2", "fd00:100::2").permanent()

				payload := gsoPayload(20000)
				const mss = 1300
				f, g := hh.tcpSuper("10.13.0.9", false, true, payload, mss)
				if !hh.port.InjectGSO(f, g) {
					t.Fatal("inject")
				}
				want := (len(payload) + mss - 1) / mss
				n := want
				if off.TxUDPTunnelGSO {
					n = 1
				}
				fs := peer.port.WaitSent(n, 2e9)
				if len(fs) != n {
					t.Fatalf("offloads %+v: %d frames on the underlay, want %d (drops %v)", off, len(fs), n, h.drops())
				}
				for _, fr := range fs {
					ds := [][]byte{fr.Data}
					if g := fr.GSO; off.TxUDPTunnelGSO {
						udp := 14 + outerIP
						csum := binary.BigEndian.Uint16(fr.Data[udp+6:])
						if g.Type != pkt.GSOTCPv4 || g.OuterL4 != uint16(udp) || g.InnerL3 != uint16(udp+8+geneveLen+14) ||
							g.TunnelV6 != v6 || g.TunnelCsum != c.csum || (csum != 0) != c.csum || g.Size != mss {
							t.Fatalf("tunnel GSO %+v, outer UDP checksum %#04x: % x", g, csum, fr.Data[:min(len(fr.Data), 90)])
						}
						p := pkt.NewPool("x", 4).Get()
						p.SetBytes(fr.Data)
						p.GSO = g
						ds = segmentFrames(t, p)
					}
					for _, d := range ds {
						udp := 14 + outerIP
						if !v6 || c.csum {
							checkSums(t, d)
						} else if binary.BigEndian.Uint16(d[udp+6:]) != 0 {
							// RFC 6935's zero checksum, which checkSums
							// would call bad over IPv6.
							t.Fatalf("IPv6 tunnel datagram without csum has UDP checksum %#04x", binary.BigEndian.Uint16(d[udp+6:]))
						}
						c := append([]byte(nil), d...)
						if !v6 {
							c[18], c[19], c[24], c[25] = 0, 0, 0, 0 // outer IPv4 ID and header checksum
						}
						// gnv0's MAC is each harness's own, and the outer
						// UDP checksum (checked above) covers it.
						innerSrc := udp + 8 + geneveLen + 6
						clear(c[innerSrc : innerSrc+6])
						clear(c[udp+6 : udp+8])
						got[i] = append(got[i], c)
					}
				}
				peer.quiet()
			}
			if len(got[0]) != len(got[1]) {
				t.Fatalf("%d datagrams through UDP-tunnel GSO, %d segment by segment", len(got[0]), len(got[1]))
			}
			for j := range got[0] {
				if !bytes.Equal(got[0][j], got[1][j]) {
					t.Fatalf("datagram %d differs\n gso % x\nsegs % x", j, got[0][j][:120], got[1][j][:120])
				}
			}
		})
	}
}

// link show names what each port takes beyond plain frames (fpctl -d
// prints it), so a user can tell which of the super-frame paths above a
// link gets.
func TestLinkShowOffloads(t *testing.T) {
	h := newHarness(t, false)
	h.offloads = port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true, TxUDPTunnelGSO: true}
	h.addLink("a")
	h.offloads = port.Offloads{RxGSO: true, TxGSO: true}
	h.addLink("b")
	h.offloads = port.Offloads{}
	h.addLink("c")
	for name, want := range map[string]string{
		"a": "rx-gso tx-tcp-segmentation tx-udp-segmentation tx-udp_tnl-segmentation",
		"b": "rx-gso tx-tcp-segmentation",
		"c": "",
	} {
		r := h.do(api.Request{Op: api.OpLinkShow, Link: &api.Link{Name: name}})
		if got := strings.Join(r.Links[0].Offloads, " "); got != want {
			t.Errorf("link %s offloads %q, want %q", name, got, want)
		}
	}
}
