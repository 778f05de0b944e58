package reasm

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// fuzzFragments feeds a table the fragments data describes, 4 bytes each:
// an offset (8-byte units, 13 bits), a length (8-byte units, minus up to 7
// bytes when flag bit 2 is set) and flags that build reads (bit 0 is MF).
// build fills p with the fragment and adds it; check looks at each
// completed datagram. Add must not panic, and every packet must be back
// in the pool once the table is drained.
func fuzzFragments(t *testing.T, data []byte, build func(tb *Table, p *pkt.Packet, off, n, i int, fl byte) (*pkt.Packet, Result),
	check func(b []byte)) {
	pool := pkt.NewPool("f", 32)
	var tb Table
	tb.Init(0, 0)
	for i := 0; i+3 < len(data); i += 4 {
		off := int(binary.BigEndian.Uint16(data[i:])) & 0x1fff
		n := 8 * (int(data[i+2]) + 1)
		fl := data[i+3]
		if fl&4 != 0 {
			n -= int(fl>>4) & 7
		}
		p := pool.Get()
		if p == nil {
			t.Fatal("pool empty: the table holds more than it should")
		}
		switch q, res := build(&tb, p, off, n, i, fl); res {
		case Done:
			check(q.Bytes())
			q.Free()
		case Held:
		default:
			p.Free()
		}
	}
	tb.Drain()
	if tb.InUse() != 0 || pool.Available() != pool.Size() {
		t.Fatalf("%d in the table, %d packets out", tb.InUse(), pool.Size()-pool.Available())
	}
}

// FuzzAdd: IPv4 fragments of two datagrams (flag bit 1 picks the ID),
// overlapping, repeated, out of range, timed out (bit 7 moves the clock);
// what completes is a well-formed datagram with the length it says.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 0, 10, 10, 0, 0})
	f.Add([]byte{0, 0, 255, 1, 0, 0, 255, 1, 1, 0, 200, 1})
	f.Add([]byte{1, 0, 5, 0, 1, 0, 5, 0})
	base := datagram(rand.New(rand.NewPCG(1, 1)), 0, 0, 0)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFragments(t, data, func(tb *Table, p *pkt.Packet, off, n, i int, fl byte) (*pkt.Packet, Result) {
			fr := make([]byte, len(base)+n)
			copy(fr, base)
			ip := hdr.IPv4(fr[14:])
			ip.SetTotalLen(uint16(20 + n))
			ip.SetID(uint16(fl >> 1 & 1))
			ip.SetFragment(false, fl&1 != 0, off*8)
			ip.UpdateChecksum()
			for k := 34; k < len(fr); k++ {
				fr[k] = byte(k)
			}
			p.SetBytes(fr)
			p.L3 = 14
			return tb.Add(p, int64(i)*int64(fl>>7)*1e9)
		}, func(b []byte) {
			rip := hdr.IPv4(b[14:])
			if !rip.ChecksumValid() || int(rip.TotalLen()) != len(b)-14 || rip.IsFragment() {
				t.Fatalf("reassembled datagram % x", b[:34])
			}
		})
	})
}

// FuzzAddIPv6 is FuzzAdd for IPv6 fragments, with hop-by-hop options
// before the fragment header (flag bit 3) or not, and, with bit 7, a chain
// whose fragment header offset the packet may not bear out.
func FuzzAddIPv6(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 0, 10, 10, 0, 0})
	f.Add([]byte{0, 0, 255, 9, 0, 0, 255, 9, 1, 0, 200, 9})
	f.Add([]byte{1, 0, 5, 2, 1, 0, 5, 2})
	r := rand.New(rand.NewPCG(1, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzFragments(t, data, func(tb *Table, p *pkt.Packet, off, n, i int, fl byte) (*pkt.Packet, Result) {
			hbh := 8 * int(fl>>3&1)
			fr := fragments6(append(datagram6(r, 0, hbh), make([]byte, n)...), hbh, nil, uint32(fl>>1&1))[0]
			fo := uint16(off * 8)
			if fl&1 != 0 {
				fo |= 1
			}
			binary.BigEndian.PutUint16(fr[14+40+hbh+2:], fo)
			p.SetBytes(fr)
			p.L3 = 14
			var c hdr.IPv6Chain
			hdr.WalkIPv6(hdr.IPv6(fr[14:]), &c)
			if fl&0x80 != 0 {
				c.FragHdr = 40 + 8*int(fl>>5&3) // a place the packet may not have it
			}
			return tb.AddIPv6(p, &c, int64(i)*1e9)
		}, func(b []byte) {
			ip := hdr.IPv6(b[14:])
			var c hdr.IPv6Chain
			if int(ip.PayloadLen())+54 != len(b) || hdr.WalkIPv6(ip, &c) && c.FragHdr != 0 {
				t.Fatalf("reassembled packet: payload length %d, %d bytes, chain %+v", ip.PayloadLen(), len(b), c)
			}
		})
	})
}
