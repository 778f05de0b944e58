package reasm

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// FuzzAdd feeds a table fragments whose offsets, lengths, MF flags and IDs
// the input chooses (overlapping, repeated, out of range, anything). Add
// must not panic, what it completes must be a well-formed datagram with
// the length it says, and every packet must be back in the pool once the
// table is drained.
func FuzzAdd(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 0, 10, 10, 0, 0})
	f.Add([]byte{0, 0, 255, 1, 0, 0, 255, 1, 1, 0, 200, 1})
	f.Add([]byte{1, 0, 5, 0, 1, 0, 5, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := pkt.NewPool("f", 32)
		var tb Table
		tb.Init(0, 0)
		r := rand.New(rand.NewPCG(1, 1))
		base := datagram(r, 0, 0, 0)
		for i := 0; i+3 < len(data); i += 4 {
			// off (in 8-byte units, two bytes), length in 8-byte units,
			// flags: MF, ID, an odd length, a time step.
			off := int(binary.BigEndian.Uint16(data[i:])) & 0x1fff
			n := 8 * (int(data[i+2]) + 1)
			fl := data[i+3]
			if fl&4 != 0 {
				n -= int(fl>>4) & 7
			}
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
			p := pool.Get()
			if p == nil {
				t.Fatal("pool empty: the table holds more than it should")
			}
			p.SetBytes(fr)
			p.L3 = 14
			q, res := tb.Add(p, int64(i)*int64(fl>>7)*1e9)
			switch res {
			case Done:
				b := q.Bytes()
				rip := hdr.IPv4(b[14:])
				if !rip.ChecksumValid() || int(rip.TotalLen()) != len(b)-14 || rip.IsFragment() {
					t.Fatalf("reassembled datagram % x", b[:34])
				}
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
	})
}

// FuzzAddIPv6 is FuzzAdd for IPv6 fragments, with hop-by-hop options
// before the fragment header or not, and fragment header offsets that may
// not match the chain.
func FuzzAddIPv6(f *testing.F) {
	f.Add([]byte{0, 10, 1, 0, 0, 10, 10, 0, 0})
	f.Add([]byte{0, 0, 255, 9, 0, 0, 255, 9, 1, 0, 200, 9})
	f.Add([]byte{1, 0, 5, 2, 1, 0, 5, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := pkt.NewPool("f", 32)
		var tb Table
		tb.Init(0, 0)
		r := rand.New(rand.NewPCG(1, 1))
		for i := 0; i+3 < len(data); i += 4 {
			off := int(binary.BigEndian.Uint16(data[i:])) & 0x1fff
			n := 8 * (int(data[i+2]) + 1)
			fl := data[i+3]
			if fl&4 != 0 {
				n -= int(fl>>4) & 7
			}
			hbh := 8 * int(fl>>3&1)
			base := datagram6(r, 0, hbh)
			fr := fragments6(append(base, make([]byte, n)...), hbh, nil, uint32(fl>>1&1))[0]
			fo := uint16(off * 8)
			if fl&1 != 0 {
				fo |= 1
			}
			binary.BigEndian.PutUint16(fr[14+40+hbh+2:], fo)
			fragHdr := 40 + hbh
			if fl&0x80 != 0 {
				fragHdr = 40 + 8*int(fl>>5&3) // a place the chain may not name
			}
			p := pool.Get()
			if p == nil {
				t.Fatal("pool empty: the table holds more than it should")
			}
			p.SetBytes(fr)
			p.L3 = 14
			q, res := tb.AddIPv6(p, fragHdr, int64(i)*1e9)
			switch res {
			case Done:
				b := q.Bytes()
				ip := hdr.IPv6(b[14:])
				if int(ip.PayloadLen())+54 != len(b) {
					t.Fatalf("reassembled packet: payload length %d, %d bytes", ip.PayloadLen(), len(b))
				}
				var c hdr.IPv6Chain
				if hdr.WalkIPv6(ip, &c) && c.FragHdr != 0 {
					t.Fatal("fragment header left in the reassembled packet")
				}
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
	})
}
