package tunnel

import (
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// m1Outer is M1's outer packet: 192.0.2.1:5555 -> 192.0.2.2:4789, ttl 63,
// tos 0x10, UDP checksum set, VXLAN VNI 42.
func m1Outer(t *testing.T) (ip []byte, udp hdr.UDP) {
	t.Helper()
	inner := arpFrame(macA)
	tun := make([]byte, 8)
	PutVXLAN(tun, 42, 0, false)
	b := make([]byte, 20+8+8+len(inner))
	copy(b[36:], inner)
	copy(b[28:], tun)
	src, dst := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	hdr.PutIPv4(b, &hdr.IPv4Fields{TOS: 0x10, TotalLen: uint16(len(b)), TTL: 63, Protocol: hdr.IPProtoUDP, Src: src, Dst: dst})
	hdr.PutUDP(b[20:], 5555, 4789, uint16(len(b)-20))
	u := hdr.UDP(b[20:])
	u.SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, u))
	return b, u
}

func TestRXInfoM1(t *testing.T) {
	ip, udp := m1Outer(t)
	vni, _, _, ok := ParseVXLAN(udp.Payload(), false)
	if !ok || vni != 42 {
		t.Fatal("vxlan")
	}
	got := RXInfo(ip, udp, uint64(vni), pkt.TunnelFlagKey)
	var want pkt.TunnelInfo
	want.Key = pkt.TunnelKey{ID: 42, Src: [16]byte{192, 0, 2, 1}, Dst: [16]byte{192, 0, 2, 2}, TTL: 63, TOS: 0x10,
		TpSrc: 5555, TpDst: 4789, Flags: pkt.TunnelFlagKey | pkt.TunnelCsum}
	if got.Key != want.Key || got.Mode != 0 || got.OptLen != 0 || !got.Equal(&want) {
		t.Fatalf("got %+v mode %d optlen %d\nwant %+v", got.Key, got.Mode, got.OptLen, want.Key)
	}
	// The GBP variant: +VXLAN_OPT, options_len 4.
	SetGBP(&got, 0x481234)
	if got.Key.Flags != pkt.TunnelFlagKey|pkt.TunnelCsum|pkt.TunnelVXLANOpt || got.OptLen != 4 {
		t.Fatalf("gbp: flags %#x optlen %d", got.Key.Flags, got.OptLen)
	}
	if KeySrc(&got) != netip.MustParseAddr("192.0.2.1") || KeyDst(&got) != netip.MustParseAddr("192.0.2.2") {
		t.Fatal("KeySrc/KeyDst")
	}
	// Without a UDP checksum no TUNNEL_CSUM; M2: another sport is other metadata.
	udp.SetChecksum(0)
	noCsum := RXInfo(ip, udp, 42, pkt.TunnelFlagKey)
	if noCsum.Key.Flags != pkt.TunnelFlagKey {
		t.Fatalf("flags %#x", noCsum.Key.Flags)
	}
	udp.SetSrcPort(5556)
	other := RXInfo(ip, udp, 42, pkt.TunnelFlagKey)
	if other.Equal(&noCsum) {
		t.Fatal("M2: a different outer sport must not compare equal")
	}
}

func TestRXInfoV6(t *testing.T) {
	b := make([]byte, 40+8)
	src, dst := netip.MustParseAddr("2001:db8::a"), netip.MustParseAddr("2001:db8::b")
	hdr.PutIPv6(b, &hdr.IPv6Fields{TrafficClass: 0xb9, FlowLabel: 0x12345, PayloadLen: 8, NextHeader: 17, HopLimit: 7, Src: src, Dst: dst})
	hdr.PutUDP(b[40:], 1, 6081, 8)
	var ti pkt.TunnelInfo
	ti.OptLen = 9 // stale state is cleared
	if !FillRXInfo(&ti, b, hdr.UDP(b[40:]), 5, pkt.TunnelFlagKey) {
		t.Fatal("fill")
	}
	k := ti.Key
	if ti.Mode != pkt.TunnelModeIPv6 || ti.OptLen != 0 || k.Src != src.As16() || k.Dst != dst.As16() || k.TOS != 0xb9 ||
		k.TTL != 7 || k.Label != 0x12345 || k.TpSrc != 1 || k.TpDst != 6081 || k.Flags != pkt.TunnelFlagKey || k.ID != 5 {
		t.Fatalf("%+v mode %d", k, ti.Mode)
	}
	if KeySrc(&ti) != src || KeyDst(&ti) != dst {
		t.Fatal("v6 KeySrc/KeyDst")
	}
	for _, bad := range [][]byte{nil, {0x45}, b[:39], {0x15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if FillRXInfo(&ti, bad, nil, 1, 0) || ti.Key != (pkt.TunnelKey{}) {
			t.Errorf("% x accepted", bad)
		}
	}
	if r := RXInfo(b, hdr.UDP(b[40:44]), 1, 0); r.Key.TpDst != 0 {
		t.Error("a short UDP header gives no ports")
	}
}

// M4: the reply goes back to the request's outer source with the same VNI,
// flags and options; M7: none for TX metadata.
func TestReplyInfo(t *testing.T) {
	ip, udp := m1Outer(t)
	rx := RXInfo(ip, udp, 42, pkt.TunnelFlagKey)
	rx.SetOptions([]byte{0, 1, 2, 1, 9, 9, 9, 9}, pkt.TunnelGeneveOpt)
	r, ok := ReplyInfo(&rx)
	if !ok {
		t.Fatal("no reply")
	}
	var want pkt.TunnelInfo
	want.Key = pkt.TunnelKey{ID: 42, Dst: [16]byte{192, 0, 2, 1}, Flags: rx.Key.Flags}
	want.Mode = pkt.TunnelModeTX
	want.SetOptions(rx.Options(), pkt.TunnelGeneveOpt)
	if r.Key != want.Key || !r.Equal(&want) {
		t.Fatalf("reply %+v, want %+v", r.Key, want.Key)
	}
	if _, ok := ReplyInfo(&r); ok {
		t.Fatal("M7: TX metadata has no reply")
	}
	if _, ok := ReplyInfo(nil); ok {
		t.Fatal("nil has no reply")
	}
	var v6 pkt.TunnelInfo
	v6.Mode = pkt.TunnelModeIPv6
	v6.Key.Src = netip.MustParseAddr("2001:db8::7").As16()
	v6.Key.Dst = netip.MustParseAddr("2001:db8::8").As16()
	v6.Key.TTL, v6.Key.TpSrc = 3, 99
	r6, ok := ReplyInfo(&v6)
	if !ok || r6.Mode != pkt.TunnelModeIPv6|pkt.TunnelModeTX || r6.Key.Dst != v6.Key.Src || r6.Key.Src != [16]byte{} ||
		r6.Key.TTL != 0 || r6.Key.TpSrc != 0 {
		t.Fatalf("v6 reply %+v", r6)
	}
}

func TestTunnelIDToVNI(t *testing.T) {
	if TunnelIDToVNI(0xff_1234_5678) != 0x345678 {
		t.Fatal("low 24 bits")
	}
}
