package tunnel

import (
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// Every per-packet function runs without allocating.
func TestNoAllocs(t *testing.T) {
	pool := pkt.NewPool("t", 2)
	p, q := pool.Get(), pool.Get()
	inner := ipv4UDPFrame(v4A, v4B, 2, 64, 1, 2, make([]byte, 1000))
	inner6 := ipv6UDPFrame(v6A, v6B, 2, 64, 1, 2, make([]byte, 100))
	mpls := mplsFrame(inner[14:], lse(100, false, 64), lse(200, true, 64))
	vx := make([]byte, 8)
	gh := make([]byte, 64)
	opts := []byte{0, 1, 2, 1, 1, 2, 3, 4}
	o4 := &Outer{Src: v4A, Dst: v4B, TTL: 64, SrcPort: 1, DstPort: VXLANPort, Csum: true}
	o6 := &Outer{Src: v6A, Dst: v6B, TTL: 64, SrcPort: 1, DstPort: GenevePort, Csum: true}
	ip, udp := m1Outer(t)
	var ti, reply pkt.TunnelInfo
	var sink uint64
	var sinkA netip.Addr
	reset := func(pk *pkt.Packet, f []byte) {
		pk.SetBytes(f)
		pk.L3, pk.EtherType = 14, be16(f[12:])
	}
	checks := map[string]func(){
		"ParseVXLAN/PutVXLAN": func() {
			PutVXLAN(vx, 42, 0x481234, true)
			v, g, _, _ := ParseVXLAN(vx, true)
			sink += uint64(v + g)
		},
		"Geneve": func() {
			n := PutGeneve(gh, 7, hdr.EtherTypeTEB, opts)
			SetGeneveFlags(gh, false, true)
			v, o, _, hl, _ := ParseGeneve(gh[:n])
			sink += uint64(v) + uint64(len(o)+hl) + uint64(GeneveRXFlags(gh))
			if GeneveOptsValid(o) {
				sink++
			}
		},
		"PushUDPTunnel v4": func() {
			reset(p, inner)
			PushUDPTunnel(p, o4, vx)
		},
		"PushUDPTunnel v6": func() {
			reset(p, inner6)
			PushUDPTunnel(p, o6, gh[:16])
		},
		"hash/port": func() {
			sink += uint64(SourcePort(InnerFlowHash(inner), 0, 0) + SourcePort(InnerFlowHash(inner6), 5000, 5010))
			sink += uint64(InnerFlowHash(arpFrame0))
		},
		"metadata": func() {
			FillRXInfo(&ti, ip, udp, 42, pkt.TunnelFlagKey)
			SetGBP(&ti, 0x481234)
			g, _ := GBP(&ti)
			FillReplyInfo(&reply, &ti)
			r := RXInfo(ip, udp, 1, 0)
			r2, _ := ReplyInfo(&r)
			sinkA = KeyDst(&r2)
			sinkA = KeySrc(&ti)
			sink += uint64(g) + uint64(TunnelIDToVNI(r2.Key.ID))
		},
		"ECN": func() {
			reset(q, inner)
			sink += uint64(ECNEncap(0x28, q.Bytes()[14:], hdr.EtherTypeIPv4))
			if ECNDecap(ECNCE, q.Bytes()[14:], hdr.EtherTypeIPv4) {
				sink++
			}
		},
		"PushMPLS": func() {
			reset(q, inner)
			PushMPLS(q, []uint32{100, 200}, 0)
		},
		"Swap/Pop/Parse": func() {
			reset(q, mpls)
			l, _, _, _, _ := ParseLSE(q.Bytes()[14:])
			if ClassifyLabel(l) == LabelRouted {
				SwapMPLS(q, []uint32{300, 400})
			}
			reset(q, mpls)
			PopMPLS(q, PayloadUnspec, true)
			PopMPLS(q, PayloadUnspec, true)
		},
	}
	for name, fn := range checks {
		if n := testing.AllocsPerRun(200, fn); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
	_, _ = sink, sinkA
}

var arpFrame0 = arpFrame(macA)
