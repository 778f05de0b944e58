package tunnel

import (
	"bytes"
	"math/big"
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

func vxlanHdr(vni uint32) []byte {
	b := make([]byte, 8)
	PutVXLAN(b, vni, 0, false)
	return b
}

// The spec's L2 expectation, decoded by gopacket: Ethernet / IPv4(ttl 64,
// proto 17, DF clear) / UDP(dport 4789) / VXLAN(I, VNI 10) / the inner
// frame untouched; with Csum the UDP checksum is valid.
func TestPushUDPTunnelVXLANv4(t *testing.T) {
	pool := pkt.NewPool("t", 2)
	inner := ipv4UDPFrame(netip.MustParseAddr("40.1.1.2"), netip.MustParseAddr("40.1.1.1"), 0, 64, 1000, 2000, []byte("ping payload"))
	for _, csum := range []bool{false, true} {
		p := packetOf(t, pool, inner)
		o := &Outer{Src: netip.MustParseAddr("50.1.1.1"), Dst: netip.MustParseAddr("50.1.1.2"), TTL: 64, TOS: 0x02,
			SrcPort: SourcePort(InnerFlowHash(inner), 0, 0), DstPort: VXLANPort, Csum: csum, ID: 0x1234}
		if !PushUDPTunnel(p, o, vxlanHdr(10)) {
			t.Fatal("push failed")
		}
		if p.L3 != 14 || p.L4 != 34 || p.EtherType != hdr.EtherTypeIPv4 || p.Len() != len(inner)+50 {
			t.Fatalf("L3 %d L4 %d type %#x len %d", p.L3, p.L4, p.EtherType, p.Len())
		}
		f := p.Bytes()
		copy(f[0:6], macB[:]) // the caller's L2 rewrite
		copy(f[6:12], macA[:])
		pk := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
		if el := pk.ErrorLayer(); el != nil {
			t.Fatalf("decode: %v", el.Error())
		}
		eth := pk.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip := pk.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
		vx, ok := pk.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
		if !ok {
			t.Fatal("no VXLAN layer")
		}
		if eth.EthernetType != layers.EthernetTypeIPv4 || ip.TTL != 64 || ip.Protocol != layers.IPProtocolUDP ||
			ip.Flags&layers.IPv4DontFragment != 0 || ip.TOS != 0x02 || ip.Id != 0x1234 ||
			!ip.SrcIP.Equal(net.ParseIP("50.1.1.1")) || !ip.DstIP.Equal(net.ParseIP("50.1.1.2")) ||
			int(ip.Length) != len(f)-14 {
			t.Fatalf("outer IPv4 %+v", ip)
		}
		if udp.DstPort != 4789 || udp.SrcPort < 32768 || udp.SrcPort >= 60999 || int(udp.Length) != len(f)-34 {
			t.Fatalf("UDP %+v", udp)
		}
		if !vx.ValidIDFlag || vx.VNI != 10 || vx.GBPExtension {
			t.Fatalf("VXLAN %+v", vx)
		}
		mustEqualBytes(t, "inner frame", vx.LayerPayload(), inner)
		if !hdr.IPv4(f[14:]).ChecksumValid() {
			t.Fatal("IPv4 header checksum")
		}
		if csum {
			if udp.Checksum == 0 || !hdr.TransportChecksumValid(o.Src, o.Dst, hdr.IPProtoUDP, f[34:]) {
				t.Fatalf("UDP checksum %#x invalid", udp.Checksum)
			}
		} else if udp.Checksum != 0 {
			t.Fatalf("UDP checksum %#x without Csum", udp.Checksum)
		}
		// gopacket decodes the inner frame too.
		if in := pk.Layers(); len(in) < 7 {
			t.Fatalf("inner layers not decoded: %v", in)
		}
		p.Free()
	}
}

func TestPushUDPTunnelGeneveV6(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	inner := ipv6UDPFrame(v6A, v6B, 0, 64, 5, 6, []byte("x"))
	p := packetOf(t, pool, inner)
	gh := make([]byte, 64)
	opts := []byte{0x01, 0x02, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef}
	n := PutGeneve(gh, 77, hdr.EtherTypeTEB, opts)
	o := &Outer{Src: netip.MustParseAddr("2001:db8:1::1"), Dst: netip.MustParseAddr("2001:db8:1::2"), TTL: 9,
		TOS: 0xb8, FlowLabel: 0xabcde, SrcPort: 40000, DstPort: GenevePort, Csum: true}
	if !PushUDPTunnel(p, o, gh[:n]) {
		t.Fatal("push")
	}
	f := p.Bytes()
	if p.L3 != 14 || p.L4 != 54 || p.EtherType != hdr.EtherTypeIPv6 || len(f) != len(inner)+14+40+8+n {
		t.Fatalf("offsets %d %d %#x len %d", p.L3, p.L4, p.EtherType, len(f))
	}
	pk := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	ip := pk.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	udp := pk.Layer(layers.LayerTypeUDP).(*layers.UDP)
	g, ok := pk.Layer(layers.LayerTypeGeneve).(*layers.Geneve)
	if !ok {
		t.Fatalf("no Geneve layer: %v", pk.Layers())
	}
	if ip.HopLimit != 9 || ip.TrafficClass != 0xb8 || ip.FlowLabel != 0xabcde || ip.NextHeader != layers.IPProtocolUDP ||
		int(ip.Length) != len(f)-54 {
		t.Fatalf("IPv6 %+v", ip)
	}
	if udp.DstPort != 6081 || udp.SrcPort != 40000 || !hdr.TransportChecksumValid(o.Src, o.Dst, hdr.IPProtoUDP, f[54:]) {
		t.Fatal("UDP")
	}
	if g.VNI != 77 || g.Protocol != layers.EthernetTypeTransparentEthernetBridging || g.OptionsLength != 8 || !g.CriticalOption {
		t.Fatalf("Geneve %+v", g)
	}
	mustEqualBytes(t, "inner", g.LayerPayload(), inner)
	mustEqualBytes(t, "options", f[62+8:62+16], opts)
}

// Reference model: gopacket serialises the same outer headers (lengths and
// checksums computed by gopacket) and the bytes must be identical.
func TestPushUDPTunnelMatchesGopacket(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	r := rand.New(rand.NewPCG(5, 6))
	buf := gopacket.NewSerializeBuffer()
	for i := 0; i < 300; i++ {
		inner := make([]byte, r.IntN(1500)+1)
		for j := range inner {
			inner[j] = byte(r.Uint32())
		}
		tun := make([]byte, []int{0, 8, 16}[r.IntN(3)])
		for j := range tun {
			tun[j] = byte(r.Uint32())
		}
		v6 := r.IntN(2) == 0
		o := &Outer{TOS: uint8(r.Uint32()), TTL: uint8(r.Uint32()), DF: r.IntN(2) == 0, SrcPort: uint16(r.Uint32()),
			DstPort: uint16(r.Uint32()), Csum: r.IntN(2) == 0, ID: uint16(r.Uint32()), FlowLabel: r.Uint32() & 0xfffff}
		var a4, b4 [4]byte
		var a6, b6 [16]byte
		for j := range a6 {
			a6[j], b6[j] = byte(r.Uint32()), byte(r.Uint32())
		}
		copy(a4[:], a6[:]) // may be anything, even multicast: headers do not care
		copy(b4[:], b6[:])
		if v6 {
			o.Src, o.Dst = netip.AddrFrom16(a6), netip.AddrFrom16(b6)
		} else {
			o.Src, o.Dst = netip.AddrFrom4(a4), netip.AddrFrom4(b4)
		}
		p := pool.Get()
		p.SetBytes(inner)
		if !PushUDPTunnel(p, o, tun) {
			t.Fatal("push")
		}
		got := p.Bytes()[14:]
		udp := &layers.UDP{SrcPort: layers.UDPPort(o.SrcPort), DstPort: layers.UDPPort(o.DstPort)}
		var ipl gopacket.SerializableLayer
		if v6 {
			ip := &layers.IPv6{Version: 6, TrafficClass: o.TOS, FlowLabel: o.FlowLabel, NextHeader: layers.IPProtocolUDP,
				HopLimit: o.TTL, SrcIP: a6[:], DstIP: b6[:]}
			udp.SetNetworkLayerForChecksum(ip)
			ipl = ip
		} else {
			ip := &layers.IPv4{Version: 4, IHL: 5, TOS: o.TOS, Id: o.ID, TTL: o.TTL, Protocol: layers.IPProtocolUDP,
				SrcIP: a4[:], DstIP: b4[:]}
			if o.DF {
				ip.Flags = layers.IPv4DontFragment
			}
			udp.SetNetworkLayerForChecksum(ip)
			ipl = ip
		}
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
			ipl, udp, gopacket.Payload(append(append([]byte{}, tun...), inner...)))
		if err != nil {
			t.Fatal(err)
		}
		want := append([]byte{}, buf.Bytes()...)
		ul := 20
		if v6 {
			ul = 40
		}
		if !o.Csum {
			want[ul+6], want[ul+7] = 0, 0
		} else if want[ul+6] == 0 && want[ul+7] == 0 {
			want[ul+6], want[ul+7] = 0xff, 0xff // RFC 768: a computed 0 is sent as all ones
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (v6 %v csum %v):\n got % x\nwant % x", i, v6, o.Csum, got[:ul+8], want[:ul+8])
		}
		p.Free()
	}
}

func TestPushUDPTunnelRefuses(t *testing.T) {
	pool := pkt.NewPool("t", 1)
	p := pool.Get()
	inner := ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, nil)
	ok4 := &Outer{Src: v4A, Dst: v4B}
	for name, o := range map[string]*Outer{
		"mixed 4/6": {Src: v6A, Dst: v4B},
		"mixed 6/4": {Src: v4A, Dst: v6B},
		"no src":    {Dst: v6B},
		"no dst":    {Src: v6A},
	} {
		p.SetBytes(inner)
		if PushUDPTunnel(p, o, nil) || !bytes.Equal(p.Bytes(), inner) {
			t.Errorf("%s: pushed", name)
		}
	}
	// Headroom too small.
	p.SetBytes(inner)
	p.Prepend(pkt.DefaultHeadroom - 40)
	before := append([]byte{}, p.Bytes()...)
	if PushUDPTunnel(p, ok4, vxlanHdr(1)) || !bytes.Equal(p.Bytes(), before) {
		t.Error("pushed without headroom")
	}
	// Lengths that do not fit 16 bits, or the buffer.
	p.SetFrame(0xffff - 20 - 8 + 1)
	if PushUDPTunnel(p, ok4, nil) || p.Len() != 0xffff-20-8+1 {
		t.Error("IPv4 total length overflow")
	}
	p.SetFrame(0xffff - 8)
	if !PushUDPTunnel(p, &Outer{Src: v6A, Dst: v6B}, nil) {
		t.Error("an IPv6 payload of 65535 fits")
	}
	p.SetFrame(pkt.MaxFrame - 20)
	if PushUDPTunnel(p, &Outer{Src: v6A, Dst: v6B}, nil) {
		t.Error("over MaxFrame / UDP length")
	}
}

// V16: the source port is stable per inner flow and inside the range.
func TestSourcePortV16(t *testing.T) {
	seen := map[uint16]bool{}
	for i := 0; i < 2000; i++ {
		f := ipv4UDPFrame(v4A, v4B, 0, 64, uint16(1000+i), 53, []byte("a"))
		h := InnerFlowHash(f)
		port := SourcePort(h, 0, 0)
		if port < 32768 || port >= 60999 {
			t.Fatalf("port %d outside [32768, 60999)", port)
		}
		// The same 5-tuple with other payload, TTL and IP ID: same port.
		g := ipv4UDPFrame(v4A, v4B, 0x10, 3, uint16(1000+i), 53, []byte("other payload"))
		if SourcePort(InnerFlowHash(g), 0, 0) != port {
			t.Fatal("the port changes within a flow")
		}
		if p := SourcePort(h, 5000, 5010); p < 5000 || p >= 5010 {
			t.Fatalf("srcport 5000 5010 gave %d", p)
		}
		seen[port] = true
	}
	if len(seen) < 1500 {
		t.Fatalf("2000 flows use only %d ports", len(seen))
	}
	if SourcePort(0xffffffff, 5000, 5001) != 5000 || SourcePort(1, 7, 7) < 32768 || SourcePort(1, 9, 8) < 32768 {
		t.Fatal("degenerate ranges")
	}
}

// Reference model of udp_flow_src_port with big integers.
func TestSourcePortMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 100000; i++ {
		h := r.Uint32()
		lo, hi := uint16(r.Uint32()), uint16(r.Uint32())
		if i%3 == 0 {
			lo, hi = 0, 0
		}
		l, u := int64(lo), int64(hi)
		if lo >= hi {
			l, u = 32768, 60999
		}
		x := h ^ (h << 16)
		want := new(big.Int).Mul(big.NewInt(int64(x)), big.NewInt(u-l))
		want.Rsh(want, 32).Add(want, big.NewInt(l))
		if got := SourcePort(h, lo, hi); int64(got) != want.Int64() {
			t.Fatalf("SourcePort(%#x, %d, %d) = %d, want %d", h, lo, hi, got, want.Int64())
		}
	}
}

func TestInnerFlowHash(t *testing.T) {
	a := ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, nil)
	if InnerFlowHash(a) == InnerFlowHash(ipv4UDPFrame(v4A, v4B, 0, 64, 1, 3, nil)) {
		t.Error("ports must count")
	}
	if InnerFlowHash(a) == InnerFlowHash(ipv4UDPFrame(v4B, v4A, 0, 64, 1, 2, nil)) {
		t.Error("addresses must count")
	}
	// A later fragment has no ports: it hashes like any other fragment of
	// the flow with other bytes where the ports would be.
	f1 := ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, []byte("12345678"))
	f2 := ipv4UDPFrame(v4A, v4B, 0, 64, 9, 9, []byte("12345678"))
	for _, f := range [][]byte{f1, f2} {
		hdr.IPv4(f[14:]).SetFragment(false, false, 64)
	}
	if InnerFlowHash(f1) != InnerFlowHash(f2) {
		t.Error("fragments must not hash ports")
	}
	v6a := ipv6UDPFrame(v6A, v6B, 0, 64, 1, 2, nil)
	v6b := ipv6UDPFrame(v6A, v6B, 0, 64, 1, 4, nil)
	if InnerFlowHash(v6a) == InnerFlowHash(v6b) || InnerFlowHash(v6a) != InnerFlowHash(ipv6UDPFrame(v6A, v6B, 9, 1, 1, 2, []byte("zz"))) {
		t.Error("IPv6 flows")
	}
	// Non-IP: MACs (and the ethertype).
	if InnerFlowHash(arpFrame(macA)) == InnerFlowHash(arpFrame(macB)) {
		t.Error("ARP from two MACs")
	}
	for _, f := range [][]byte{nil, {1}, a[:13], a[:20], v6a[:30]} {
		if InnerFlowHash(f) == 0 {
			t.Errorf("hash of % x is 0", f)
		}
	}
}
