package scenario

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/api"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// What a kernel VTEP puts on a veth and AF_PACKET (PACKET_VNET_HDR) hands
// flowpath: the inner TCP checksum left partial, and a TCP flow as one
// VXLAN datagram per 64 KiB super-frame, reported as plain TCPv4 GSO with
// the checksum start on the inner TCP header. After decapsulation the
// offload state must describe the inner frame.
//
//	host h (10.11.0.1) ─ r-h [ router ] r-u ─ kernel VTEP 10.100.0.2
//	                 10.11.0.254   vx0 10.99.0.1/24, station 10.99.0.5 behind the VTEP

// outerLen is Ethernet, IPv4, UDP and VXLAN in front of the inner frame.
const outerLen = 14 + 20 + 8 + 8

func gsoRxTopo(t *testing.T, hOffloads port.Offloads) (*harness, *host, *host) {
	h := newHarness(t, false)
	h.offloads = hOffloads
	h.addLink("h", "10.11.0.254/24")
	h.offloads = port.Offloads{RxGSO: true}
	h.addLink("u", "10.100.0.1/24")
	h.offloads = port.Offloads{}
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "vx0", Kind: "vxlan",
		VXLAN: &api.VXLAN{VNI: 100, Remote: "10.100.0.2", DstPort: 4789, SetDstPort: true, Dev: "u"}}})
	up := true
	h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: "vx0", Up: &up}})
	h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: "vx0", Prefix: "10.99.0.1/24"}})
	hh := h.host("h", [6]byte{2, 0, 0, 0, 0x11, 1}, "10.11.0.1", "").permanent()
	peer := h.host("u", [6]byte{2, 0, 0, 0, 0x64, 2}, "10.100.0.2", "").permanent()
	return h, hh, peer
}

// kernelVXLANTCP is a VXLAN datagram from peer carrying a TCP segment (or
// super-frame) from station 10.99.0.5 to 10.11.0.1 whose checksum holds
// only the pseudo-header sum, and the offload state AF_PACKET reports for
// it: gso TCPv4 with mss, or none when mss is 0.
func kernelVXLANTCP(t *testing.T, h *harness, peer *host, payload []byte, mss int) ([]byte, pkt.GSO) {
	vmac := h.mac("vx0")
	sta := innerMAC(5)
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x4000, Flags: layers.IPv4DontFragment, Protocol: layers.IPProtocolTCP,
		SrcIP: innerIP(5).AsSlice(), DstIP: netip.MustParseAddr("10.11.0.1").AsSlice()}
	tcp := &layers.TCP{SrcPort: 5201, DstPort: 40000, Seq: gsoSeq, Ack: 77, ACK: true, PSH: true, Window: 512}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	inner := []gopacket.SerializableLayer{&layers.Ethernet{SrcMAC: sta[:], DstMAC: vmac[:], EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload)}
	frame := serialize(t, vxlanFrame(peer, 100, inner...)...)
	csumStart := outerLen + 14 + 20
	l4 := frame[csumStart:]
	binary.BigEndian.PutUint16(l4[16:], ^hdr.Fold(hdr.PseudoHeaderSum(innerIP(5), netip.MustParseAddr("10.11.0.1"), hdr.IPProtoTCP, len(l4))))
	g := pkt.GSO{NeedsCsum: true, CsumStart: uint16(csumStart), CsumOffset: 16}
	if mss != 0 {
		// The kernel's hdr_len is the linear part of the skb: a hint.
		g.Type, g.Size, g.HdrLen = pkt.GSOTCPv4, uint16(mss), uint16(csumStart+20+200)
	}
	return frame, g
}

// A single segment with a partial inner checksum (a kernel's SYN-ACK)
// reaches a host behind a port without offloads with its checksum
// completed.
func TestVXLANDecapPartialChecksum(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{})
	f, g := kernelVXLANTCP(t, h, peer, []byte("syn-ack-ish"), 0)
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	p := hh.recv()
	checkSums(t, p.Data()) // the TCP checksum is the point
	tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if !ok || string(tcp.Payload) != "syn-ack-ish" || ip4Of(t, p).TTL != 63 {
		t.Fatalf("decapsulated: %v", p)
	}
	hh.quiet()
}

// A super-frame decapsulated and forwarded to a port without GSO is
// segmented, every segment with valid checksums.
func TestVXLANDecapSuperFrameSegmented(t *testing.T) {
	checkDecapSegmented(t, kernelVXLANTCP, 20000)
}

// checkDecapSegmented injects on the underlay what build makes of a TCP
// payload of n bytes (mss 1448) and checks that a host without offloads
// gets it as valid segments, nothing else.
func checkDecapSegmented(t *testing.T, build func(*testing.T, *harness, *host, []byte, int) ([]byte, pkt.GSO), n int) {
	t.Helper()
	h, hh, peer := gsoRxTopo(t, port.Offloads{})
	payload := gsoPayload(n)
	const mss = 1448
	f, g := build(t, h, peer, payload, mss)
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	want := (len(payload) + mss - 1) / mss
	fs := hh.port.WaitSent(want, 2e9)
	if len(fs) != want {
		t.Fatalf("%d frames, want %d", len(fs), want)
	}
	var ps []gopacket.Packet
	for _, fr := range fs {
		ps = append(ps, gopacket.NewPacket(fr.Data, layers.LayerTypeEthernet, gopacket.Default))
	}
	checkSegments(t, ps, hh, false, 1500, mss, payload)
	hh.quiet()
}

// A super-frame forwarded to a port that takes GSO stays one frame, its
// offload state moved to the inner headers.
func TestVXLANDecapSuperFrameKept(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true})
	payload := gsoPayload(30000)
	f, g := kernelVXLANTCP(t, h, peer, payload, 1448)
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	fs := hh.port.WaitSent(1, 2e9)
	if len(fs) != 1 {
		t.Fatal("no frame")
	}
	fr := fs[0]
	want := pkt.GSO{Type: pkt.GSOTCPv4, Size: 1448, NeedsCsum: true, CsumStart: 34, CsumOffset: 16, HdrLen: g.HdrLen - outerLen}
	if fr.GSO != want {
		t.Fatalf("GSO state %+v, want %+v", fr.GSO, want)
	}
	if len(fr.Data) != len(f)-outerLen || !bytes.Equal(fr.Data[34:], f[outerLen+34:]) {
		t.Fatalf("inner frame of %d bytes, or TCP part changed (sent %d outer)", len(fr.Data), len(f))
	}
	ip := hdr.IPv4(fr.Data[14:])
	if !ip.ChecksumValid() || ip.TTL() != 63 || int(ip.TotalLen()) != len(fr.Data)-14 {
		t.Fatalf("inner IP: ttl %d len %d csum ok %v", ip.TTL(), ip.TotalLen(), ip.ChecksumValid())
	}
	hh.quiet()
}

// A super-frame whose offload state is about the outer datagram (UDP
// segmentation of the tunnel packets) is not one inner frame: it is cut
// into its datagrams (vxlan_uso_test.go), and one that cannot be cut (no
// segment size) is dropped and counted, not delivered as a giant.
func TestVXLANDecapOuterGSODropped(t *testing.T) {
	h, hh, peer := gsoRxTopo(t, port.Offloads{TxGSO: true, TxUSO: true, RxGSO: true})
	f, _ := kernelVXLANTCP(t, h, peer, gsoPayload(3000), 0)
	g := pkt.GSO{Type: pkt.GSOUDPL4, Size: 0, NeedsCsum: true, CsumStart: 34, CsumOffset: 6, HdrLen: 42}
	if !peer.port.InjectGSO(f, g) {
		t.Fatal("inject")
	}
	h.waitDrop("gso_segmentation_failed", 1)
	hh.expectNone(50e6)
}
