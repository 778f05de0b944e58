package hdr

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// Seeds: a few well-formed frames built with the package's own builders,
// so the fuzzer starts from the interesting part of the input space.
func seedFrames() [][]byte {
	var out [][]byte
	out = append(out, buildIPv4UDP([]byte("seed")))
	b := make([]byte, 14+28)
	PutEthernet(b, BroadcastMAC, macA, EtherTypeARP)
	PutARP(b[14:], ARPRequest, macA, v4A, MAC{}, v4B)
	out = append(out, b)
	tcp := make([]byte, 20)
	tcp[12] = 0x50
	v6 := v6WithChain(IPProtoHopByHop, ext(IPProtoFragment, 0), []byte{IPProtoTCP, 0, 0, 0, 0, 0, 0, 1}, tcp)
	out = append(out, append([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x86, 0xdd}, v6...))
	na := make([]byte, 32)
	PutNDPNeighborAdvert(na, v6A, NDPFlagSolicited, macB)
	out = append(out, na)
	return out
}

func FuzzEthernet(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x81, 0x00, 0, 5, 0x88, 0xa8, 0, 6, 0x81, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		e := Ethernet(b)
		if e.IsValid() {
			_, _, _ = e.Dst(), e.Src(), e.EtherType()
			_ = e.Payload()
		}
		et, off, tci, ok := L2Payload(b)
		if !ok {
			if len(b) >= EthernetLen && Ethernet(b).EtherType() != EtherTypeVLAN && Ethernet(b).EtherType() != EtherTypeQinQ {
				t.Fatal("untagged frame rejected")
			}
			return
		}
		if off > len(b) || off < EthernetLen || (off-EthernetLen)%VLANLen != 0 || off > EthernetLen+MaxVLANTags*VLANLen {
			t.Fatalf("offset %d of %d", off, len(b))
		}
		if binary.BigEndian.Uint16(b[off-2:]) != et {
			t.Fatal("ethertype not the one before the payload")
		}
		if off > EthernetLen && VLAN(b[14:]).TCI() != tci {
			t.Fatal("tci")
		}
	})
}

func FuzzARP(f *testing.F) {
	for _, s := range seedFrames() {
		if len(s) > 14 {
			f.Add(s[14:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := ARP(b)
		if !a.IsValid() {
			return
		}
		c := make([]byte, ARPLen)
		PutARP(c, a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP())
		if !bytes.Equal(c, b[:ARPLen]) {
			t.Fatalf("rebuild differs:\n% x\n% x", c, b[:ARPLen])
		}
	})
}

func FuzzIPv4(f *testing.F) {
	for _, s := range seedFrames() {
		if len(s) > 14 {
			f.Add(s[14:])
		}
	}
	f.Add([]byte{0x46, 0, 0, 24, 0, 0, 0, 0, 1, 6, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x94, 4, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv4(b)
		if !ip.IsValid() {
			return
		}
		hl := ip.HeaderLen()
		pl := ip.Payload()
		if len(pl) != int(ip.TotalLen())-hl || len(ip.Options()) != hl-IPv4MinLen {
			t.Fatalf("payload %d options %d for hl %d tl %d", len(pl), len(ip.Options()), hl, ip.TotalLen())
		}
		_, _, _, _, _ = ip.TOS(), ip.ID(), ip.DF(), ip.MF(), ip.IsFragment()
		_, _, _ = ip.Src(), ip.Dst(), ip.Protocol()
		if ip.FragOffset()%8 != 0 || ip.FragOffset() > 65528 {
			t.Fatal("frag offset")
		}
		c := append(IPv4(nil), b...)
		c.UpdateChecksum()
		if !c.ChecksumValid() {
			t.Fatal("UpdateChecksum does not validate")
		}
		ttl := c.TTL()
		c.DecTTL()
		if !c.ChecksumValid() || (ttl > 0 && c.TTL() != ttl-1) {
			t.Fatal("DecTTL")
		}
	})
}

func FuzzIPv6Transport(f *testing.F) {
	for _, s := range seedFrames() {
		if len(s) > 14 {
			f.Add(s[14:])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv6(b)
		valid := ip.IsValid()
		if valid {
			_, _, _, _ = ip.TrafficClass(), ip.FlowLabel(), ip.Src(), ip.Dst()
			if len(ip.Payload()) != int(ip.PayloadLen()) {
				t.Fatal("payload length")
			}
		}
		proto, off, frag, ok := IPv6Transport(ip)
		if !ok {
			return
		}
		if !valid {
			t.Fatal("transport found in an invalid packet")
		}
		if off < IPv6Len || off > IPv6Len+int(ip.PayloadLen()) {
			t.Fatalf("offset %d outside payload", off)
		}
		var c IPv6Chain
		if !WalkIPv6(ip, &c) || c.Proto != proto || c.Off != off || c.IsFragment() != frag {
			t.Fatal("WalkIPv6 disagrees")
		}
		if c.FragHdr != 0 && (c.FragHdr < IPv6Len || c.FragHdr+8 > off) {
			t.Fatal("fragment header position")
		}
		if c.FragHdr != 0 && (ip[c.FragNH] != IPProtoFragment || c.FragNH != 6 && (c.FragNH < IPv6Len || c.FragNH >= c.FragHdr)) {
			t.Fatalf("the byte naming the fragment header: %d", c.FragNH)
		}
		if frag && c.FragHdr == 0 {
			t.Fatal("fragment without header")
		}
	})
}

func FuzzICMP(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 1, 0, 2, 'x'})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 5, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if m := ICMPv4(b); m.IsValid() {
			_, _, _, _, _, _ = m.Type(), m.Code(), m.Checksum(), m.ID(), m.Seq(), m.MTU()
			if len(m.Payload()) != len(b)-ICMPLen {
				t.Fatal("payload")
			}
			c := append(ICMPv4(nil), b...)
			c.UpdateChecksum()
			if Checksum(c, 0) != 0 {
				t.Fatal("icmpv4 checksum")
			}
		}
		if m := ICMPv6(b); m.IsValid() {
			_, _, _, _ = m.Type(), m.Code(), m.MTU(), m.Pointer()
			c := append(ICMPv6(nil), b...)
			c.UpdateChecksum(v6A, v6B)
			if !TransportChecksumValid(v6A, v6B, IPProtoICMPv6, c) {
				t.Fatal("icmpv6 checksum")
			}
		}
	})
}

// refOptions parses an NDP option list into (type, body) pairs, or nil
// and false if malformed: the slow model NDPLinkAddrOption is checked
// against.
func refOptions(b []byte) ([][2][]byte, bool) {
	var out [][2][]byte
	i := 0
	for i < len(b) {
		if i+2 > len(b) {
			return nil, false
		}
		n := int(b[i+1]) * 8
		if n == 0 || i+n > len(b) {
			return nil, false
		}
		out = append(out, [2][]byte{b[i : i+1], b[i+2 : i+n]})
		i += n
	}
	return out, true
}

func FuzzNDP(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Add([]byte{135, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 14: 0, 23: 1, 24: 1, 1, 1, 2, 3, 4, 5, 6, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ns := NDPNeighborSolicit(b); ns.IsValid() {
			_ = ns.TargetAddress()
			if !NDPOptionsValid(ns.Options()) {
				t.Fatal("valid NS with bad options")
			}
			_, _ = ns.SourceLinkAddr()
		}
		if na := NDPNeighborAdvert(b); na.IsValid() {
			_, _, _, _ = na.TargetAddress(), na.Router(), na.Solicited(), na.Override()
			_, _ = na.TargetLinkAddr()
		}
		opts, ok := refOptions(b)
		if ok != NDPOptionsValid(b) {
			t.Fatalf("NDPOptionsValid %v, reference %v", !ok, ok)
		}
		for _, typ := range []uint8{NDPOptSourceLinkAddr, NDPOptTargetLinkAddr} {
			m, found := NDPLinkAddrOption(b, typ)
			if !ok {
				// A malformed list may still yield an option found before
				// the damage; it must then be a real option.
				if found && len(b) < 8 {
					t.Fatal("found an option in fewer than 8 bytes")
				}
				continue
			}
			var want MAC
			wantFound := false
			for _, o := range opts {
				if o[0][0] == typ {
					want, wantFound = MAC(o[1][:6]), true
					break
				}
			}
			if found != wantFound || m != want {
				t.Fatalf("type %d: %v %v, reference %v %v", typ, m, found, want, wantFound)
			}
		}
	})
}

func FuzzUDPTCP(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 9, 0, 0, 'x'})
	f.Add([]byte{0, 80, 1, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0x60, 0x12, 0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4, 'h', 'i'})
	f.Fuzz(func(t *testing.T, b []byte) {
		if u := UDP(b); u.IsValid() {
			_, _, _ = u.SrcPort(), u.DstPort(), u.Checksum()
			if len(u.Payload()) != int(u.Length())-UDPLen {
				t.Fatal("udp payload")
			}
		}
		if h := TCP(b); h.IsValid() {
			_, _, _, _, _, _ = h.SrcPort(), h.DstPort(), h.Seq(), h.Ack(), h.Flags(), h.Window()
			if len(h.Options())+TCPMinLen != h.DataOffset() || len(h.Payload()) != len(b)-h.DataOffset() {
				t.Fatal("tcp options/payload")
			}
		}
	})
}

func FuzzSum(f *testing.F) {
	f.Add([]byte{0xff, 0xff, 0xff}, uint32(0xffffffff), uint8(1))
	f.Add(make([]byte, 100), uint32(0), uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, init uint32, skip uint8) {
		if int(skip) <= len(b) {
			b = b[skip:]
		}
		got := fold16(Sum(b, init)) % 0xffff
		want := uint32(refAdd(refSum(b), uint16(fold16(init)))) % 0xffff
		if got != want {
			t.Fatalf("Sum %#x reference %#x", got, want)
		}
	})
}

func FuzzParseMAC(f *testing.F) {
	f.Add("02:00:5e:10:00:01")
	f.Add("2-0-5e-10-0-1")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMAC(s)
		if err != nil {
			return
		}
		m2, err := ParseMAC(m.String())
		if err != nil || m2 != m {
			t.Fatalf("round trip of %q: %v %v", s, m2, err)
		}
	})
}
