package tunnel

import (
	"strconv"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// BenchmarkPushUDPTunnel: VXLAN over IPv4 in front of a 64-byte and a
// 1400-byte inner frame, with and without a UDP checksum. Each iteration
// pushes and pulls the outer headers off again (Pull only moves an offset).
func BenchmarkPushUDPTunnel(b *testing.B) {
	for _, size := range []int{64, 1400} {
		for _, csum := range []bool{false, true} {
			name := "inner=" + strconv.Itoa(size)
			if csum {
				name += "/csum"
			}
			b.Run(name, func(b *testing.B) {
				pool := pkt.NewPool("b", 1)
				p := pool.Get()
				p.SetBytes(ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, make([]byte, size-42)))
				vx := make([]byte, 8)
				PutVXLAN(vx, 10, 0, false)
				o := &Outer{Src: v4A, Dst: v4B, TTL: 64, DstPort: VXLANPort, Csum: csum}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					o.SrcPort = SourcePort(InnerFlowHash(p.Bytes()), 0, 0)
					if !PushUDPTunnel(p, o, vx) {
						b.Fatal("push")
					}
					p.Pull(50)
				}
			})
		}
	}
}

func BenchmarkParseVXLAN(b *testing.B) {
	h := []byte{0x88, 0x48, 0x12, 0x34, 0, 0, 0x0a, 0}
	var sink uint32
	b.ReportAllocs()
	for b.Loop() {
		v, g, _, _ := ParseVXLAN(h, true)
		sink += v + g
	}
	_ = sink
}

// BenchmarkPushMPLS pushes two labels and pops them again (ForwardMPLS
// with no labels under a non-bottom label, then egress).
func BenchmarkPushMPLS(b *testing.B) {
	pool := pkt.NewPool("b", 1)
	p := pool.Get()
	p.SetBytes(ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, make([]byte, 64)))
	p.L3, p.EtherType = 14, hdr.EtherTypeIPv4
	labels := []uint32{100, 200}
	b.ReportAllocs()
	for b.Loop() {
		if !PushMPLS(p, labels, 0) {
			b.Fatal("push")
		}
		PopMPLS(p, PayloadUnspec, true)
		if _, _, v := PopMPLS(p, PayloadUnspec, true); v != MPLSEgress {
			b.Fatal(v)
		}
		p.Bytes()[22] = 64 // keep the TTL from running out
	}
}

func BenchmarkInnerFlowHash(b *testing.B) {
	f := ipv4UDPFrame(v4A, v4B, 0, 64, 1, 2, nil)
	var sink uint32
	b.ReportAllocs()
	for b.Loop() {
		sink += InnerFlowHash(f)
	}
	_ = sink
}
