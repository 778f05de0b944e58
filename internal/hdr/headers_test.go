package hdr

import (
	"bytes"
	"net"
	"net/netip"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

var (
	macA = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	macB = MAC{0x02, 0x00, 0x00, 0x00, 0x00, 0x0b}
	v4A  = netip.MustParseAddr("10.0.0.1")
	v4B  = netip.MustParseAddr("10.0.1.2")
	v6A  = netip.MustParseAddr("fd00::1")
	v6B  = netip.MustParseAddr("fd00:1::2")
)

func decode(t *testing.T, frame []byte) gopacket.Packet {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("gopacket: %v", el.Error())
	}
	return p
}

func TestMAC(t *testing.T) {
	m, err := ParseMAC("02:00:5E:10:00:01")
	if err != nil || m != (MAC{2, 0, 0x5e, 0x10, 0, 1}) {
		t.Fatalf("ParseMAC = %v, %v", m, err)
	}
	if m.String() != "02:00:5e:10:00:01" {
		t.Fatalf("String = %s", m)
	}
	if m2, err := ParseMAC("2-0-5e-10-0-1"); err != nil || m2 != m {
		t.Fatalf("dash form: %v %v", m2, err)
	}
	for _, bad := range []string{"", "02:00:5e:10:00", "02:00:5e:10:00:01:02", "02:00-5e:10:00:01",
		"020:00:5e:10:00:01", "zz:00:5e:10:00:01", "02:00:5e:10:00:01:", ":02:00:5e:10:00:01"} {
		if _, err := ParseMAC(bad); err == nil {
			t.Errorf("ParseMAC(%q) accepted", bad)
		}
	}
	if !BroadcastMAC.IsBroadcast() || !BroadcastMAC.IsMulticast() || BroadcastMAC.IsZero() {
		t.Fatal("broadcast predicates")
	}
	if macA.IsMulticast() || !(MAC{}).IsZero() || !(MAC{1}).IsMulticast() {
		t.Fatal("unicast/zero predicates")
	}
	// Agrees with net.HardwareAddr formatting.
	if macA.String() != net.HardwareAddr(macA[:]).String() {
		t.Fatal("String differs from net")
	}
}

func TestMulticastMappings(t *testing.T) {
	if got := IPv4MulticastMAC(netip.MustParseAddr("239.129.2.3")); got != (MAC{1, 0, 0x5e, 1, 2, 3}) {
		t.Fatalf("v4 mcast mac %v", got)
	}
	sn := SolicitedNodeMulticast(netip.MustParseAddr("fe80::1234:5678:9abc:def0"))
	if sn != netip.MustParseAddr("ff02::1:ffbc:def0") {
		t.Fatalf("solicited node %v", sn)
	}
	if got := IPv6MulticastMAC(sn); got != (MAC{0x33, 0x33, 0xff, 0xbc, 0xde, 0xf0}) {
		t.Fatalf("v6 mcast mac %v", got)
	}
}

func TestEthernetVLAN(t *testing.T) {
	f := make([]byte, 22)
	PutEthernet(f, macB, macA, EtherTypeVLAN)
	PutVLAN(f[14:], 5<<13|0x1000|100, EtherTypeQinQ)
	PutVLAN(f[18:], 200, EtherTypeIPv4)
	e := Ethernet(f)
	if !e.IsValid() || e.Dst() != macB || e.Src() != macA || e.EtherType() != EtherTypeVLAN {
		t.Fatal("ethernet getters")
	}
	v := VLAN(f[14:])
	if !v.IsValid() || v.VID() != 100 || v.PCP() != 5 || !v.DEI() || v.EtherType() != EtherTypeQinQ {
		t.Fatalf("vlan getters vid %d pcp %d", v.VID(), v.PCP())
	}
	v.SetVID(4095)
	v.SetPCP(2)
	if v.VID() != 4095 || v.PCP() != 2 || !v.DEI() {
		t.Fatal("vlan setters")
	}
	v.SetVID(100)
	v.SetPCP(5)
	et, off, tci, ok := L2Payload(f)
	if !ok || et != EtherTypeIPv4 || off != 22 || tci != 5<<13|0x1000|100 {
		t.Fatalf("L2Payload = %#x %d %#x %v", et, off, tci, ok)
	}
	if _, _, _, ok := L2Payload(f[:20]); ok {
		t.Fatal("L2Payload accepted truncated tag")
	}
	if _, _, _, ok := L2Payload(f[:13]); ok {
		t.Fatal("L2Payload accepted truncated header")
	}
	// gopacket sees the same.
	p := gopacket.NewPacket(append(f, make([]byte, 40)...), layers.LayerTypeEthernet, gopacket.Default)
	eth := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
	if !bytes.Equal(eth.DstMAC, macB[:]) || !bytes.Equal(eth.SrcMAC, macA[:]) {
		t.Fatal("gopacket ethernet")
	}
	d := p.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q)
	if d.VLANIdentifier != 100 || d.Priority != 5 || !d.DropEligible {
		t.Fatalf("gopacket dot1q %+v", d)
	}
	e.SetDst(macA)
	e.SetSrc(macB)
	e.SetEtherType(EtherTypeIPv6)
	if e.Dst() != macA || e.Src() != macB || e.EtherType() != EtherTypeIPv6 {
		t.Fatal("ethernet setters")
	}
	if Ethernet(f[:13]).IsValid() || VLAN(f[:3]).IsValid() {
		t.Fatal("short views valid")
	}
}

func TestARP(t *testing.T) {
	f := make([]byte, EthernetLen+ARPLen)
	PutEthernet(f, BroadcastMAC, macA, EtherTypeARP)
	PutARP(f[14:], ARPRequest, macA, v4A, MAC{}, v4B)
	a := ARP(f[14:])
	if !a.IsValid() || a.Op() != ARPRequest || a.SenderMAC() != macA || a.SenderIP() != v4A ||
		a.TargetMAC() != (MAC{}) || a.TargetIP() != v4B {
		t.Fatal("arp getters")
	}
	p := decode(t, f)
	g := p.Layer(layers.LayerTypeARP).(*layers.ARP)
	if g.Operation != 1 || !bytes.Equal(g.SourceProtAddress, []byte{10, 0, 0, 1}) ||
		!bytes.Equal(g.DstProtAddress, []byte{10, 0, 1, 2}) || !bytes.Equal(g.SourceHwAddress, macA[:]) {
		t.Fatalf("gopacket arp %+v", g)
	}
	a.SetOp(ARPReply)
	if a.Op() != ARPReply {
		t.Fatal("SetOp")
	}
	for i := 0; i < 6; i++ {
		c := append([]byte(nil), f[14:]...)
		c[i] ^= 0x40
		if ARP(c).IsValid() {
			t.Fatalf("ARP with byte %d changed is valid", i)
		}
	}
	if ARP(f[14 : 14+27]).IsValid() {
		t.Fatal("short arp valid")
	}
}

func buildIPv4UDP(payload []byte) []byte {
	f := make([]byte, EthernetLen+IPv4MinLen+UDPLen+len(payload))
	PutEthernet(f, macB, macA, EtherTypeIPv4)
	PutIPv4(f[14:], &IPv4Fields{TOS: 0xb8, TotalLen: uint16(len(f) - 14), ID: 0x1234, DF: true,
		TTL: 64, Protocol: IPProtoUDP, Src: v4A, Dst: v4B})
	u := UDP(f[34:])
	PutUDP(u, 5000, 4242, uint16(UDPLen+len(payload)))
	copy(u.Payload(), payload)
	u.SetChecksum(TransportChecksum(v4A, v4B, IPProtoUDP, u))
	return f
}

func TestIPv4UDP(t *testing.T) {
	payload := []byte("hello, flowpath")
	f := buildIPv4UDP(payload)
	ip := IPv4(f[14:])
	if !ip.IsValid() || ip.HeaderLen() != 20 || int(ip.TotalLen()) != len(f)-14 || ip.TOS() != 0xb8 ||
		ip.ID() != 0x1234 || !ip.DF() || ip.MF() || ip.FragOffset() != 0 || ip.IsFragment() ||
		ip.TTL() != 64 || ip.Protocol() != IPProtoUDP || ip.Src() != v4A || ip.Dst() != v4B ||
		!ip.ChecksumValid() || len(ip.Options()) != 0 {
		t.Fatal("ipv4 getters")
	}
	u := UDP(ip.Payload())
	if !u.IsValid() || u.SrcPort() != 5000 || u.DstPort() != 4242 || !bytes.Equal(u.Payload(), payload) {
		t.Fatal("udp getters")
	}
	p := decode(t, f)
	g4 := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
	if g4.Checksum != ip.Checksum() || g4.TOS != 0xb8 || g4.Flags != layers.IPv4DontFragment ||
		!g4.SrcIP.Equal(net.IP{10, 0, 0, 1}) || g4.Length != ip.TotalLen() {
		t.Fatalf("gopacket ipv4 %+v", g4)
	}
	gu := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
	if gu.Checksum != u.Checksum() || uint16(gu.SrcPort) != 5000 || !bytes.Equal(gu.Payload, payload) {
		t.Fatalf("gopacket udp %+v", gu)
	}
	// gopacket's own serializer computes the checksums independently.
	ref := serializeIPv4UDP(t, payload)
	if !bytes.Equal(ref[14:len(f)], f[14:]) { // gopacket pads to 60 bytes
		t.Fatalf("differs from gopacket serialization:\n% x\n% x", ref[14:], f[14:])
	}
	// Setters and DecTTL.
	ip.SetTTL(2)
	ip.UpdateChecksum()
	if ip.DecTTL() != 1 || ip.TTL() != 1 || !ip.ChecksumValid() {
		t.Fatal("DecTTL")
	}
	ip.SetTTL(0)
	ip.UpdateChecksum()
	if ip.DecTTL() != 0 || ip.TTL() != 0 || !ip.ChecksumValid() {
		t.Fatal("DecTTL at 0 must not wrap")
	}
	ip.SetFragment(false, true, 1480)
	if ip.DF() || !ip.MF() || ip.FragOffset() != 1480 || !ip.IsFragment() {
		t.Fatal("SetFragment")
	}
	ip.SetTOS(1)
	ip.SetID(7)
	ip.SetSrc(v4B)
	ip.SetDst(v4A)
	ip.SetProtocol(IPProtoTCP)
	if ip.TOS() != 1 || ip.ID() != 7 || ip.Src() != v4B || ip.Dst() != v4A || ip.Protocol() != IPProtoTCP {
		t.Fatal("ipv4 setters")
	}
	if ip.ChecksumValid() {
		t.Fatal("setters must not fix the checksum")
	}
	ip.SetSrc(v6A) // wrong family: unspecified, no panic
	if ip.Src() != netip.IPv4Unspecified() {
		t.Fatal("SetSrc with IPv6")
	}
}

func serializeIPv4UDP(t *testing.T, payload []byte) []byte {
	eth := &layers.Ethernet{SrcMAC: macA[:], DstMAC: macB[:], EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, IHL: 5, TOS: 0xb8, Id: 0x1234, Flags: layers.IPv4DontFragment, TTL: 64,
		Protocol: layers.IPProtocolUDP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 1, 2}}
	udp := &layers.UDP{SrcPort: 5000, DstPort: 4242}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, udp, gopacket.Payload(payload))
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestIPv4Validity(t *testing.T) {
	f := buildIPv4UDP(make([]byte, 30))
	ip := IPv4(f[14:])
	cases := []struct {
		name string
		mod  func(b IPv4) IPv4
		ok   bool
	}{
		{"good", func(b IPv4) IPv4 { return b }, true},
		{"padding after total length", func(b IPv4) IPv4 { return append(b, 0, 0, 0) }, true},
		{"version 6", func(b IPv4) IPv4 { b[0] = 0x65; return b }, false},
		{"ihl 4", func(b IPv4) IPv4 { b[0] = 0x44; return b }, false},
		{"ihl past slice", func(b IPv4) IPv4 { b[0] = 0x4f; return b[:40] }, false},
		{"total < ihl", func(b IPv4) IPv4 { b.SetTotalLen(19); return b }, false},
		{"total > slice", func(b IPv4) IPv4 { b.SetTotalLen(uint16(len(b) + 1)); return b }, false},
		{"short", func(b IPv4) IPv4 { return b[:19] }, false},
		{"options", func(b IPv4) IPv4 { b[0] = 0x46; return b }, true},
	}
	for _, c := range cases {
		b := c.mod(append(IPv4(nil), ip...))
		if got := b.IsValid(); got != c.ok {
			t.Errorf("%s: IsValid %v", c.name, got)
		}
	}
	// Options and payload of a header with options.
	b := append(IPv4(nil), ip...)
	b[0] = 0x46
	if len(b.Options()) != 4 || len(b.Payload()) != int(b.TotalLen())-24 {
		t.Fatal("options/payload with IHL 6")
	}
}

func TestIPv6(t *testing.T) {
	payload := []byte("0123456789abcdef0123")
	f := make([]byte, EthernetLen+IPv6Len+UDPLen+len(payload))
	PutEthernet(f, macB, macA, EtherTypeIPv6)
	PutIPv6(f[14:], &IPv6Fields{TrafficClass: 0xa5, FlowLabel: 0xbcdef, PayloadLen: uint16(UDPLen + len(payload)),
		NextHeader: IPProtoUDP, HopLimit: 9, Src: v6A, Dst: v6B})
	ip := IPv6(f[14:])
	u := UDP(ip.Payload())
	PutUDP(u, 1, 2, uint16(len(u)))
	copy(u.Payload(), payload)
	u.SetChecksum(TransportChecksum(v6A, v6B, IPProtoUDP, u))
	if !ip.IsValid() || ip.TrafficClass() != 0xa5 || ip.FlowLabel() != 0xbcdef || ip.HopLimit() != 9 ||
		ip.NextHeader() != IPProtoUDP || ip.Src() != v6A || ip.Dst() != v6B || len(ip.Payload()) != 28 {
		t.Fatal("ipv6 getters")
	}
	p := decode(t, f)
	g := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	if g.TrafficClass != 0xa5 || g.FlowLabel != 0xbcdef || g.HopLimit != 9 || !g.DstIP.Equal(net.IP(v6B.AsSlice())) {
		t.Fatalf("gopacket ipv6 %+v", g)
	}
	// gopacket's serializer computes the UDP checksum independently.
	gu := &layers.UDP{SrcPort: 1, DstPort: 2}
	gip := &layers.IPv6{Version: 6, NextHeader: layers.IPProtocolUDP, SrcIP: v6A.AsSlice(), DstIP: v6B.AsSlice()}
	_ = gu.SetNetworkLayerForChecksum(gip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		gu, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), u) {
		t.Fatalf("udp6 differs from gopacket:\n% x\n% x", buf.Bytes(), []byte(u))
	}
	ip.SetTrafficClass(0x3c)
	ip.SetFlowLabel(0x12345)
	ip.SetHopLimit(1)
	if ip.TrafficClass() != 0x3c || ip.FlowLabel() != 0x12345 || ip.HopLimit() != 1 || ip[0]>>4 != 6 {
		t.Fatal("ipv6 setters")
	}
	if ip.DecHopLimit() != 0 || ip.DecHopLimit() != 0 {
		t.Fatal("DecHopLimit")
	}
	ip.SetPayloadLen(uint16(len(ip) - 39))
	if ip.IsValid() {
		t.Fatal("payload length past slice is valid")
	}
}

// ext builds an extension header of type-independent shape: next header,
// length in 8-byte units minus one, padding.
func ext(next uint8, units int) []byte {
	b := make([]byte, (units+1)*8)
	b[0], b[1] = next, byte(units)
	return b
}

func v6WithChain(first uint8, chain ...[]byte) IPv6 {
	var pl []byte
	for _, c := range chain {
		pl = append(pl, c...)
	}
	b := make([]byte, IPv6Len+len(pl))
	PutIPv6(b, &IPv6Fields{PayloadLen: uint16(len(pl)), NextHeader: first, HopLimit: 64, Src: v6A, Dst: v6B})
	copy(b[IPv6Len:], pl)
	return b
}

func TestIPv6Transport(t *testing.T) {
	tcp := make([]byte, 20)
	tcp[12] = 5 << 4
	frag := func(next uint8, off int, m bool) []byte {
		b := make([]byte, 8)
		b[0] = next
		v := uint16(off) &^ 7
		if m {
			v |= 1
		}
		b[2], b[3] = byte(v>>8), byte(v)
		b[4], b[7] = 0xaa, 0x55
		return b
	}
	ah := make([]byte, 16)
	ah[0], ah[1] = IPProtoTCP, 2 // (2+2)*4 = 16 bytes
	cases := []struct {
		name  string
		b     IPv6
		proto uint8
		off   int
		frag  bool
		ok    bool
	}{
		{"plain", v6WithChain(IPProtoTCP, tcp), IPProtoTCP, 40, false, true},
		{"hbh+dst+rt", v6WithChain(IPProtoHopByHop, ext(IPProtoDestOpts, 0), ext(IPProtoRouting, 1),
			ext(IPProtoTCP, 0), tcp), IPProtoTCP, 40 + 8 + 16 + 8, false, true},
		{"first fragment", v6WithChain(IPProtoFragment, frag(IPProtoTCP, 0, true), tcp), IPProtoTCP, 48, true, true},
		{"later fragment", v6WithChain(IPProtoFragment, frag(IPProtoDestOpts, 1448, false), tcp), IPProtoDestOpts, 48, true, true},
		{"atomic fragment", v6WithChain(IPProtoFragment, frag(IPProtoUDP, 0, false), tcp), IPProtoUDP, 48, false, true},
		{"ah", v6WithChain(IPProtoAH, ah, tcp), IPProtoTCP, 56, false, true},
		{"esp stops", v6WithChain(IPProtoESP, tcp), IPProtoESP, 40, false, true},
		{"no next", v6WithChain(IPProtoNoNext), IPProtoNoNext, 40, false, true},
		{"ext past payload", v6WithChain(IPProtoHopByHop, ext(IPProtoTCP, 3)[:16]), 0, 0, false, false},
		{"ext truncated", v6WithChain(IPProtoRouting, make([]byte, 4)), 0, 0, false, false},
		{"two fragment headers", v6WithChain(IPProtoFragment, frag(IPProtoFragment, 0, true), frag(IPProtoTCP, 0, true)), 0, 0, false, false},
	}
	long := make([][]byte, MaxIPv6ExtHeaders+1)
	for i := range long {
		long[i] = ext(IPProtoDestOpts, 0)
	}
	long[len(long)-1][0] = IPProtoTCP
	cases = append(cases, struct {
		name  string
		b     IPv6
		proto uint8
		off   int
		frag  bool
		ok    bool
	}{"too many", v6WithChain(IPProtoDestOpts, long...), 0, 0, false, false})
	okLong := long[1:]
	cases = append(cases, struct {
		name  string
		b     IPv6
		proto uint8
		off   int
		frag  bool
		ok    bool
	}{"max allowed", v6WithChain(IPProtoDestOpts, append(okLong, tcp)...), IPProtoTCP, 40 + 8*MaxIPv6ExtHeaders, false, true})
	for _, c := range cases {
		proto, off, fr, ok := IPv6Transport(c.b)
		if ok != c.ok || (ok && (proto != c.proto || off != c.off || fr != c.frag)) {
			t.Errorf("%s: got %d %d %v %v, want %d %d %v %v", c.name, proto, off, fr, ok, c.proto, c.off, c.frag, c.ok)
		}
	}
	var ch IPv6Chain
	if !WalkIPv6(cases[3].b, &ch) || !ch.IsLaterFragment() || ch.FragOffset != 1448 || ch.MoreFrags || ch.ID != 0xaa000055 {
		t.Fatalf("WalkIPv6 later fragment %+v", ch)
	}
	if !WalkIPv6(cases[2].b, &ch) || ch.IsLaterFragment() || !ch.IsFragment() || !ch.MoreFrags || ch.FragHdr != 40 ||
		ch.FragNH != 6 {
		t.Fatalf("WalkIPv6 first fragment %+v", ch)
	}
	// Behind a hop-by-hop header, that header names the fragment header.
	hbhFrag := v6WithChain(IPProtoHopByHop, ext(IPProtoFragment, 0), frag(IPProtoTCP, 0, true), tcp)
	if !WalkIPv6(hbhFrag, &ch) || ch.FragHdr != 48 || ch.FragNH != 40 || ch.Proto != IPProtoTCP {
		t.Fatalf("WalkIPv6 fragment behind hop-by-hop %+v", ch)
	}
	// gopacket agrees on where the TCP header is for the long chain.
	b := cases[1].b
	p := gopacket.NewPacket(b, layers.LayerTypeIPv6, gopacket.Default)
	if l := p.Layer(layers.LayerTypeTCP); l == nil {
		t.Fatal("gopacket found no TCP")
	} else if got := len(b) - len(l.LayerContents()) - len(l.LayerPayload()); got != 72 {
		t.Fatalf("gopacket tcp at %d", got)
	}
}

func TestTCP(t *testing.T) {
	b := make([]byte, 32+5)
	PutTCP(b, &TCPFields{SrcPort: 80, DstPort: 4242, Seq: 0xdeadbeef, Ack: 7, DataOffset: 32,
		Flags: TCPFlagSYN | TCPFlagACK | TCPFlagECE, Window: 65535, Urgent: 3})
	copy(b[20:], []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}) // nop nop timestamp
	copy(b[32:], "hello")
	h := TCP(b)
	h.SetChecksum(TransportChecksum(v4A, v4B, IPProtoTCP, b))
	if !h.IsValid() || h.SrcPort() != 80 || h.DstPort() != 4242 || h.Seq() != 0xdeadbeef || h.Ack() != 7 ||
		h.DataOffset() != 32 || h.Flags() != TCPFlagSYN|TCPFlagACK|TCPFlagECE || h.Window() != 65535 ||
		h.Urgent() != 3 || len(h.Options()) != 12 || string(h.Payload()) != "hello" {
		t.Fatal("tcp getters")
	}
	g := &layers.TCP{}
	if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if g.Seq != 0xdeadbeef || !g.SYN || !g.ACK || !g.ECE || g.FIN || g.DataOffset != 8 || len(g.Options) != 3 ||
		g.Checksum != h.Checksum() {
		t.Fatalf("gopacket tcp %+v", g)
	}
	// gopacket's serializer computes the same checksum.
	ip := &layers.IPv4{Version: 4, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 1, 2}}
	g2 := *g
	_ = g2.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, &g2,
		gopacket.Payload("hello")); err != nil {
		t.Fatal(err)
	}
	if c := TCP(buf.Bytes()).Checksum(); c != h.Checksum() {
		t.Fatalf("gopacket checksum %#x, ours %#x", c, h.Checksum())
	}
	h.SetSeq(1)
	h.SetAck(2)
	h.SetFlags(TCPFlagFIN)
	h.SetWindow(3)
	h.SetSrcPort(4)
	h.SetDstPort(5)
	h.SetDataOffset(20)
	h.SetUrgent(0)
	if h.Seq() != 1 || h.Ack() != 2 || h.Flags() != TCPFlagFIN || h.Window() != 3 || h.SrcPort() != 4 ||
		h.DstPort() != 5 || h.DataOffset() != 20 || len(h.Payload()) != 17 {
		t.Fatal("tcp setters")
	}
	h.SetDataOffset(16)
	if h.IsValid() {
		t.Fatal("data offset 16 valid")
	}
	h.SetDataOffset(60)
	if h.IsValid() {
		t.Fatal("data offset past slice valid")
	}
}

func TestICMPv4(t *testing.T) {
	f := make([]byte, EthernetLen+IPv4MinLen+ICMPLen+4)
	PutEthernet(f, macB, macA, EtherTypeIPv4)
	PutIPv4(f[14:], &IPv4Fields{TotalLen: uint16(len(f) - 14), TTL: 64, Protocol: IPProtoICMP, Src: v4A, Dst: v4B})
	m := ICMPv4(f[34:])
	m.SetType(ICMPv4Echo)
	m.SetCode(0)
	m.SetID(0x4242)
	m.SetSeq(9)
	copy(m.Payload(), "ping")
	m.UpdateChecksum()
	if !m.IsValid() || m.Type() != ICMPv4Echo || m.ID() != 0x4242 || m.Seq() != 9 || Checksum(m, 0) != 0 {
		t.Fatal("icmpv4 getters")
	}
	if !TransportChecksumValid(v4A, v4B, IPProtoICMP, m) {
		t.Fatal("TransportChecksumValid icmp")
	}
	g := decode(t, f).Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
	if g.TypeCode.Type() != 8 || g.Id != 0x4242 || g.Seq != 9 || g.Checksum != m.Checksum() {
		t.Fatalf("gopacket icmpv4 %+v", g)
	}
	m.SetType(ICMPv4DestUnreachable)
	m.SetCode(ICMPv4CodeFragNeeded)
	m.SetMTU(1400)
	if m.MTU() != 1400 || m.ID() != 0 || m.Code() != 4 {
		t.Fatal("SetMTU")
	}
	if ICMPv4(f[34:41]).IsValid() {
		t.Fatal("short icmp valid")
	}
}

func TestNDP(t *testing.T) {
	target := netip.MustParseAddr("fe80::2")
	src := netip.MustParseAddr("fe80::1")
	dst := SolicitedNodeMulticast(target)
	f := make([]byte, EthernetLen+IPv6Len+32)
	PutEthernet(f, IPv6MulticastMAC(dst), macA, EtherTypeIPv6)
	n := PutNDPNeighborSolicit(f[54:], target, macA, true)
	if n != 32 {
		t.Fatalf("NS length %d", n)
	}
	PutIPv6(f[14:], &IPv6Fields{PayloadLen: uint16(n), NextHeader: IPProtoICMPv6, HopLimit: 255, Src: src, Dst: dst})
	ICMPv6(f[54:]).UpdateChecksum(src, dst)
	ns := NDPNeighborSolicit(f[54:])
	if !ns.IsValid() || ns.TargetAddress() != target {
		t.Fatal("NS getters")
	}
	if m, ok := ns.SourceLinkAddr(); !ok || m != macA {
		t.Fatal("NS SLLA")
	}
	if !TransportChecksumValid(src, dst, IPProtoICMPv6, f[54:]) {
		t.Fatal("NS checksum")
	}
	p := decode(t, f)
	gns := p.Layer(layers.LayerTypeICMPv6NeighborSolicitation).(*layers.ICMPv6NeighborSolicitation)
	if !gns.TargetAddress.Equal(net.IP(target.AsSlice())) || len(gns.Options) != 1 ||
		!bytes.Equal(gns.Options[0].Data, macA[:]) {
		t.Fatalf("gopacket NS %+v", gns)
	}
	gi := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6)
	if gi.Checksum != ICMPv6(f[54:]).Checksum() {
		t.Fatal("gopacket icmpv6 checksum")
	}
	// Verify gopacket computes the same checksum from scratch.
	gip := p.Layer(layers.LayerTypeIPv6).(*layers.IPv6)
	_ = gi.SetNetworkLayerForChecksum(gip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true}, gi, gns); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), f[54:]) {
		t.Fatalf("NS differs from gopacket:\n% x\n% x", buf.Bytes(), f[54:])
	}

	// DAD form: no option.
	b := make([]byte, 32)
	if PutNDPNeighborSolicit(b, target, macA, false) != 24 {
		t.Fatal("DAD NS length")
	}
	if _, ok := NDPNeighborSolicit(b[:24]).SourceLinkAddr(); ok {
		t.Fatal("DAD NS has SLLA")
	}

	// Neighbour advertisement.
	na := make([]byte, 32)
	if PutNDPNeighborAdvert(na, target, NDPFlagSolicited|NDPFlagOverride|0x1f, macB) != 32 {
		t.Fatal("NA length")
	}
	ICMPv6(na).UpdateChecksum(target, src)
	v := NDPNeighborAdvert(na)
	if !v.IsValid() || v.Router() || !v.Solicited() || !v.Override() || v.TargetAddress() != target ||
		v.Flags() != NDPFlagSolicited|NDPFlagOverride || na[4]&0x1f != 0 {
		t.Fatal("NA getters")
	}
	if m, ok := v.TargetLinkAddr(); !ok || m != macB {
		t.Fatal("NA TLLA")
	}
	gna := &layers.ICMPv6NeighborAdvertisement{}
	if err := gna.DecodeFromBytes(na[4:], gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if !gna.Solicited() || !gna.Override() || gna.Router() || !gna.TargetAddress.Equal(net.IP(target.AsSlice())) {
		t.Fatalf("gopacket NA %+v", gna)
	}
	// Wrong type, multicast target, bad option are invalid.
	if NDPNeighborSolicit(na).IsValid() || NDPNeighborAdvert(ns).IsValid() {
		t.Fatal("type check")
	}
	bad := append([]byte(nil), na...)
	bad[25] = 0
	if NDPNeighborAdvert(bad).IsValid() {
		t.Fatal("zero-length option valid")
	}
	bad[25], bad[8] = 1, 0xff
	if NDPNeighborAdvert(bad).IsValid() {
		t.Fatal("multicast target valid")
	}
}

func TestNDPLinkAddrOption(t *testing.T) {
	opt := func(typ, units uint8, fill byte) []byte {
		b := make([]byte, int(units)*8)
		b[0], b[1] = typ, units
		for i := 2; i < len(b); i++ {
			b[i] = fill
		}
		return b
	}
	cat := func(bs ...[]byte) []byte {
		var r []byte
		for _, b := range bs {
			r = append(r, b...)
		}
		return r
	}
	cases := []struct {
		name string
		opts []byte
		typ  uint8
		mac  MAC
		ok   bool
	}{
		{"empty", nil, 1, MAC{}, false},
		{"single", opt(1, 1, 7), 1, MAC{7, 7, 7, 7, 7, 7}, true},
		{"second", cat(opt(5, 2, 1), opt(2, 1, 9)), 2, MAC{9, 9, 9, 9, 9, 9}, true},
		{"first of two", cat(opt(1, 1, 3), opt(1, 1, 4)), 1, MAC{3, 3, 3, 3, 3, 3}, true},
		{"absent", cat(opt(5, 2, 1), opt(2, 1, 9)), 1, MAC{}, false},
		{"zero length first", cat([]byte{3, 0, 0, 0, 0, 0, 0, 0}, opt(1, 1, 2)), 1, MAC{}, false},
		{"truncated", opt(1, 1, 2)[:7], 1, MAC{}, false},
		{"length past end", cat(opt(3, 1, 0)[:1], []byte{2}), 1, MAC{}, false},
		{"one byte", []byte{1}, 1, MAC{}, false},
	}
	for _, c := range cases {
		m, ok := NDPLinkAddrOption(c.opts, c.typ)
		if ok != c.ok || m != c.mac {
			t.Errorf("%s: %v %v", c.name, m, ok)
		}
	}
	bad := opt(1, 1, 2)
	bad[1] = 2
	if NDPOptionsValid(bad) || !NDPOptionsValid(nil) || !NDPOptionsValid(opt(9, 3, 0)) {
		t.Fatal("NDPOptionsValid")
	}
}

func TestICMPv6PacketTooBig(t *testing.T) {
	b := make([]byte, 48)
	m := ICMPv6(b)
	m.SetType(ICMPv6PacketTooBig)
	m.SetCode(0)
	m.SetMTU(1280)
	m.UpdateChecksum(v6A, v6B)
	if m.MTU() != 1280 || m.Type() != 2 || !TransportChecksumValid(v6A, v6B, IPProtoICMPv6, b) {
		t.Fatal("packet too big")
	}
	g := &layers.ICMPv6{}
	if err := g.DecodeFromBytes(b, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if g.TypeCode.Type() != layers.ICMPv6TypePacketTooBig || g.Checksum != m.Checksum() {
		t.Fatalf("gopacket %+v", g)
	}
	m.SetType(ICMPv6EchoRequest)
	m.SetID(1)
	m.SetSeq(2)
	if m.ID() != 1 || m.Seq() != 2 || m.Pointer() != 0x00010002 || len(m.Payload()) != 40 {
		t.Fatal("echo fields")
	}
}
