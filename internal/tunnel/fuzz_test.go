package tunnel

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"flowpath/internal/errs"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// FuzzVXLAN: the receive parser agrees with the kernel-shaped reference
// on any bytes, and what it accepts rebuilds to a header it reads back.
func FuzzVXLAN(f *testing.F) {
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 0x0a, 0}, false)
	f.Add([]byte{0x88, 0x48, 0x12, 0x34, 0, 0, 0x0a, 0}, true)
	f.Add([]byte{0x88, 0x48, 0x12, 0x34, 0, 0, 0x0a, 0}, false)
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 0x0a, 1}, true)
	f.Add([]byte{0x08}, false)
	f.Fuzz(func(t *testing.T, b []byte, gbp bool) {
		vni, word, has, ok := ParseVXLAN(b, gbp)
		rv, rw, rh, rok := refParseVXLAN(b, gbp)
		if vni != rv || word != rw || has != rh || ok != rok {
			t.Fatalf("% x gbp=%v: %d %#x %v %v, reference %d %#x %v %v", b, gbp, vni, word, has, ok, rv, rw, rh, rok)
		}
		if !ok {
			return
		}
		if vni > 0xffffff || word&^GBPMask != 0 || (!gbp && has) {
			t.Fatalf("out of range: vni %d gbp %#x", vni, word)
		}
		var out [8]byte
		PutVXLAN(out[:], vni, word, gbp)
		v2, w2, _, ok2 := ParseVXLAN(out[:], gbp)
		if !ok2 || v2 != vni || w2 != word {
			t.Fatalf("rebuild % x -> % x -> %d %#x %v", b, out, v2, w2, ok2)
		}
	})
}

// FuzzGeneve: parsing stays inside b and what parses rebuilds to the same
// header fields.
func FuzzGeneve(f *testing.F) {
	f.Add([]byte{0x03, 0x40, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00, 0x01, 0x02, 0x83, 0x01, 1, 2, 3, 4, 0xff, 0xff, 0x04, 0x00, 9})
	f.Add([]byte{0x00, 0x80, 0x08, 0x00, 0, 0, 1, 0})
	f.Add([]byte{0x41, 0, 0x65, 0x58, 0, 0, 1, 0})
	f.Add([]byte{0x3f, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fl := GeneveRXFlags(b)
		vni, opts, proto, hl, ok := ParseGeneve(b)
		if !ok {
			return
		}
		if hl > len(b) || hl != 8+len(opts) || !bytes.Equal(opts, b[8:hl]) || vni > 0xffffff || b[0]>>6 != 0 {
			t.Fatalf("% x: vni %d opts %d hl %d", b, vni, len(opts), hl)
		}
		if fl&pkt.TunnelFlagKey == 0 || (fl&pkt.TunnelCritOpt != 0) != (b[1]&0x40 != 0) || (fl&pkt.TunnelOAM != 0) != (b[1]&0x80 != 0) {
			t.Fatalf("flags %#x for % x", fl, b[:2])
		}
		_ = GeneveOptsValid(opts)
		out := make([]byte, hl)
		if PutGeneve(out, vni, proto, opts) != hl {
			t.Fatal("rebuild refused")
		}
		SetGeneveFlags(out, b[1]&0x80 != 0, b[1]&0x40 != 0)
		v2, o2, p2, h2, ok2 := ParseGeneve(out)
		if !ok2 || v2 != vni || p2 != proto || h2 != hl || !bytes.Equal(o2, opts) || GeneveRXFlags(out) != fl {
			t.Fatalf("rebuild differs: % x -> % x", b[:hl], out)
		}
	})
}

// fuzzLabels turns bytes into labels, 3 bytes each (20 bits), so invalid
// values and counts over MaxLabels show up.
func fuzzLabels(b []byte) []uint32 {
	var out []uint32
	for len(b) >= 3 && len(out) < 40 {
		v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
		if b[0]&0x80 == 0 {
			v &= MaxLabel
		}
		out = append(out, v)
		b = b[3:]
	}
	return out
}

// FuzzMPLS: receive parsing and pop/swap/push on random frames never
// panic, stay inside the buffer, leave dropped packets untouched and agree
// with the reference model.
func FuzzMPLS(f *testing.F) {
	ip4 := ipv4UDPFrame(v4A, v4B, 0, 50, 1, 2, nil)[14:]
	f.Add(mplsFrame(ip4, lse(100, true, 64)), uint8(14), []byte{0, 0, 200}, uint8(0), true, uint8(0))
	f.Add(mplsFrame(ip4, lse(100, false, 2), lse(16, true, 3)), uint8(14), []byte{}, uint8(1), false, uint8(9))
	f.Add(mplsFrame(nil, lse(0, true, 64)), uint8(14), []byte{0, 0, 3}, uint8(2), true, uint8(0))
	f.Add(ipv4UDPFrame(v4A, v4B, 0, 63, 1, 2, nil), uint8(14), []byte{0, 0, 200, 0, 0, 100}, uint8(0), true, uint8(10))
	f.Fuzz(func(t *testing.T, frame []byte, l3 uint8, labelBytes []byte, pt uint8, prop bool, ttl uint8) {
		if len(frame) > 4096 {
			return
		}
		pool := pkt.NewPool("f", 1)
		p := pool.Get()
		p.SetBytes(frame)
		p.L3 = uint16(l3)
		if int(l3) < len(frame) {
			_, _, _, _, _ = ParseLSE(frame[l3:])
			_ = ClassifyLabel(uint32(l3))
		}
		out := fuzzLabels(labelBytes)
		payload := Payload(pt % 4) // 3 is not a payload type: must not crash
		want, wv := refForward(frame, int(l3), p.Headroom(), out, payload%3, prop)
		et, isIP, v := ForwardMPLS(p, out, payload, prop)
		if payload == 3 {
			if v.OK() && v == MPLSEgress {
				t.Fatal("an unknown payload type cannot egress")
			}
		} else if v != wv {
			t.Fatalf("verdict %v, reference %v", v, wv)
		}
		if !v.OK() {
			if !bytes.Equal(p.Bytes(), frame) {
				t.Fatal("a drop changed the frame")
			}
		} else if payload != 3 {
			if !sameExceptIPv4Checksum(p.Bytes(), want, frame, int(l3), v == MPLSEgress && et == hdr.EtherTypeIPv4) {
				t.Fatalf("got % x\nwant % x", p.Bytes(), want)
			}
			if isIP != (v == MPLSEgress) {
				t.Fatal("isIP")
			}
		}
		// Push on the original frame.
		p.SetBytes(frame)
		p.L3 = uint16(l3)
		if int(l3) >= 2 && int(l3) <= len(frame) {
			p.EtherType = binary.BigEndian.Uint16(frame[l3-2:])
		}
		pushType := p.EtherType
		ok := PushMPLS(p, out, ttl)
		valid := validLabels(out, false) && int(l3) >= 14 && int(l3) <= len(frame)
		if ok != valid {
			t.Fatalf("push ok %v, want %v", ok, valid)
		}
		if ok {
			mustEqualBytes(t, "push", p.Bytes(), refPush(frame, int(l3), pushType, out, ttl))
		} else if !bytes.Equal(p.Bytes(), frame) {
			t.Fatal("a refused push changed the frame")
		}
		p.Free()
	})
}

// FuzzBuild: any configuration either fails with one of the kernel's
// errnos or builds a state that round-trips through Config.
func FuzzBuild(f *testing.F) {
	f.Add("ip", uint64(10), "50.1.1.2", "", uint8(0), uint8(0), "csum,key", "", uint32(0), false, []byte{})
	f.Add("ip6", uint64(1), "2001:db8::1", "::1", uint8(64), uint8(0xb8), "seq", "0x102:0x80:00112233", uint32(0), false, []byte{})
	f.Add("ip", uint64(0), "", "", uint8(0), uint8(0), "", "", uint32(0x481234), true, []byte{})
	f.Add("mpls", uint64(0), "", "", uint8(10), uint8(0), "", "", uint32(0), false, []byte{0, 0, 100, 0, 0, 200})
	f.Add("mpls", uint64(0), "", "", uint8(0), uint8(0), "", "", uint32(0), false, []byte{0, 0, 3})
	f.Add("99", uint64(0), "", "", uint8(0), uint8(0), "", "1:1:"+strings.Repeat("00", 128), uint32(0), false, []byte{})
	f.Fuzz(func(t *testing.T, typ string, id uint64, dst, src string, ttl, tos uint8, flags, geneve string, vx uint32, setVX bool, labels []byte) {
		c := EncapConfig{Type: typ, ID: id, Dst: dst, Src: src, TTL: ttl, TOS: tos, GeneveOpts: geneve,
			VXLANOpts: vx, SetVXLANOpts: setVX, Labels: fuzzLabels(labels)}
		if flags != "" {
			c.Flags = strings.Split(flags, ",")
		}
		for _, multipath := range []bool{false, true} {
			var e *Encap
			var err error
			if multipath {
				e, err = BuildMultipath(&c)
			} else {
				e, err = Build(&c)
			}
			if err != nil {
				switch errs.Code(err) {
				case "EINVAL", "EOPNOTSUPP", "ERANGE":
				default:
					t.Fatalf("%+v: error %v has no kernel errno", c, err)
				}
				if e != nil {
					t.Fatal("a state with an error")
				}
				continue
			}
			switch e.Type {
			case EncapIP, EncapIP6:
				if !e.Info.IsTX() || e.Info.IsIPv6() != (e.Type == EncapIP6) || len(e.Labels) != 0 {
					t.Fatalf("state %+v", e)
				}
				if e.Info.Key.Flags&pkt.TunnelGeneveOpt != 0 && !GeneveOptsValid(e.Info.Options()) {
					t.Fatalf("invalid geneve options % x", e.Info.Options())
				}
			case EncapMPLS:
				if !validLabels(e.Labels, false) {
					t.Fatalf("labels %v", e.Labels)
				}
			default:
				t.Fatalf("built type %v", e.Type)
			}
			back := e.Config()
			e2, err := Build(&back)
			if err != nil || !e.Equal(e2) {
				t.Fatalf("%+v -> %+v does not round-trip: %v", c, back, err)
			}
		}
	})
}

// FuzzInner: the inner-frame helpers (flow hash, ECN, receive info) take
// any bytes.
func FuzzInner(f *testing.F) {
	f.Add(ipv4UDPFrame(v4A, v4B, 3, 64, 1, 2, []byte("x")), uint8(3))
	f.Add(ipv6UDPFrame(v6A, v6B, 2, 64, 1, 2, nil), uint8(3))
	f.Add(arpFrame(macA), uint8(1))
	f.Fuzz(func(t *testing.T, frame []byte, outer uint8) {
		h := InnerFlowHash(frame)
		if h == 0 || h != InnerFlowHash(append([]byte{}, frame...)) {
			t.Fatal("hash zero or unstable")
		}
		et, off, _, ok := hdr.L2Payload(frame)
		if !ok {
			return
		}
		l3 := append([]byte{}, frame[off:]...)
		_ = ECNEncap(outer, l3, et)
		valid := et == hdr.EtherTypeIPv4 && len(l3) >= 20 && l3[0]&0xf == 5 && hdr.IPv4(l3).ChecksumValid()
		drop := ECNDecap(outer, l3, et)
		if valid && !hdr.IPv4(l3).ChecksumValid() {
			t.Fatal("ECN decap broke the IPv4 checksum")
		}
		if drop && outer&3 != ECNCE {
			t.Fatal("drop without CE")
		}
		var ti pkt.TunnelInfo
		if FillRXInfo(&ti, frame[off:], hdr.UDP(frame[off:]), 1, 0) {
			r, ok := ReplyInfo(&ti)
			if !ok || !r.IsTX() || r.Key.ID != 1 {
				t.Fatal("reply of RX info")
			}
		}
	})
}
