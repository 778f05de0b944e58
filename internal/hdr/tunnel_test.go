package hdr

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// outerUDP builds Ethernet/IPv4/UDP to dport around inner.
func outerUDP(dport uint16, inner []byte) []byte {
	f := make([]byte, 14+20+8+len(inner))
	PutEthernet(f, macB, macA, EtherTypeIPv4)
	PutIPv4(f[14:], &IPv4Fields{TotalLen: uint16(len(f) - 14), TTL: 64, Protocol: IPProtoUDP, Src: v4A, Dst: v4B})
	PutUDP(f[34:], 50000, dport, uint16(8+len(inner)))
	copy(f[42:], inner)
	UDP(f[34:]).SetChecksum(TransportChecksum(v4A, v4B, IPProtoUDP, f[34:]))
	return f
}

func innerFrame() []byte {
	f := buildIPv4UDP([]byte("inner"))
	return f
}

func TestVXLAN(t *testing.T) {
	inner := innerFrame()
	v := make([]byte, VXLANLen+len(inner))
	PutVXLAN(v, 0xabcdef)
	copy(v[8:], inner)
	h := VXLAN(v)
	if !h.IsValid() || h.VNI() != 0xabcdef || h.Flags() != 0x08 || !bytes.Equal(h.Payload(), inner) {
		t.Fatal("vxlan getters")
	}
	h.SetVNI(42)
	if h.VNI() != 42 || v[7] != 0 || v[3] != 0 {
		t.Fatal("SetVNI")
	}
	p := decode(t, outerUDP(VXLANPort, v))
	g := p.Layer(layers.LayerTypeVXLAN).(*layers.VXLAN)
	if !g.ValidIDFlag || g.VNI != 42 {
		t.Fatalf("gopacket vxlan %+v", g)
	}
	if len(p.Layers()) < 7 { // eth ip udp vxlan eth ip udp
		t.Fatalf("gopacket did not decode the inner frame: %v", p.Layers())
	}
	v[0] = 0
	if VXLAN(v).IsValid() || VXLAN(v[:7]).IsValid() {
		t.Fatal("vxlan without I flag or short is valid")
	}
}

func TestGeneve(t *testing.T) {
	inner := innerFrame()
	// Two options: class 0x0102 type 0x80 (critical) with 4 bytes, class
	// 0xffff type 3 with 8 bytes.
	opts := []byte{0x01, 0x02, 0x80, 1, 1, 2, 3, 4, 0xff, 0xff, 3, 2, 9, 9, 9, 9, 8, 8, 8, 8}
	b := make([]byte, GeneveMinLen+len(opts)+len(inner))
	n := PutGeneve(b, 0x123456, EtherTypeTEB, opts)
	copy(b[n:], inner)
	h := Geneve(b)
	if n != 28 || !h.IsValid() || h.VNI() != 0x123456 || h.Protocol() != EtherTypeTEB || !h.Critical() || h.OAM() ||
		h.OptionsLen() != 20 || !bytes.Equal(h.Options(), opts) || !bytes.Equal(h.Payload(), inner) ||
		!GeneveOptionsValid(h.Options()) || h.Version() != 0 {
		t.Fatal("geneve getters")
	}
	p := decode(t, outerUDP(GenevePort, b))
	g := p.Layer(layers.LayerTypeGeneve).(*layers.Geneve)
	if g.VNI != 0x123456 || !g.CriticalOption || len(g.Options) != 2 || g.Options[1].Class != 0xffff ||
		g.Options[1].Length != 12 || g.Protocol != layers.EthernetTypeTransparentEthernetBridging {
		t.Fatalf("gopacket geneve %+v", g)
	}
	h.SetVNI(7)
	if h.VNI() != 7 {
		t.Fatal("SetVNI")
	}
	if GeneveOptionsValid(opts[:19]) || GeneveOptionsValid(opts[:3]) {
		t.Fatal("truncated options valid")
	}
	b[0] = 0x3f
	if Geneve(b[:60]).IsValid() { // 0x3f*4 = 252 option bytes claimed
		t.Fatal("options past slice valid")
	}
	b[0] = 0x45
	if Geneve(b).IsValid() {
		t.Fatal("version 1 valid")
	}
}

func TestMPLS(t *testing.T) {
	inner := buildIPv4UDP([]byte("x"))[14:]
	f := make([]byte, 14+8+len(inner))
	PutEthernet(f, macB, macA, EtherTypeMPLS)
	PutMPLS(f[14:], 1000, 5, false, 64)
	PutMPLS(f[18:], MPLSLabelFirstUnreserved, 0, true, 1)
	copy(f[22:], inner)
	m := MPLS(f[14:])
	if !m.IsValid() || m.Label() != 1000 || m.TC() != 5 || m.BottomOfStack() || m.TTL() != 64 {
		t.Fatal("mpls getters")
	}
	if n, ok := MPLSStackLen(f[14:]); !ok || n != 8 {
		t.Fatalf("stack length %d %v", n, ok)
	}
	p := gopacket.NewPacket(f, layers.LayerTypeEthernet, gopacket.Default)
	var labels []*layers.MPLS
	for _, l := range p.Layers() {
		if m, ok := l.(*layers.MPLS); ok {
			labels = append(labels, m)
		}
	}
	if len(labels) != 2 || labels[0].Label != 1000 || labels[0].TrafficClass != 5 || labels[0].TTL != 64 ||
		!labels[1].StackBottom || labels[1].Label != 16 {
		t.Fatalf("gopacket mpls %v", p.Layers())
	}
	m.SetLabel(0xfffff)
	m.SetTC(2)
	m.SetTTL(3)
	m.SetBottomOfStack(true)
	if m.Label() != 0xfffff || m.TC() != 2 || m.TTL() != 3 || !m.BottomOfStack() {
		t.Fatal("mpls setters")
	}
	m.SetBottomOfStack(false)
	if m.BottomOfStack() || m.Label() != 0xfffff || m.TC() != 2 {
		t.Fatal("clear S")
	}
	// No bottom of stack before the end, and too deep a stack.
	if _, ok := MPLSStackLen(f[14:21]); ok {
		t.Fatal("truncated stack")
	}
	deep := make([]byte, 4*(MaxMPLSLabels+1))
	for i := 0; i < MaxMPLSLabels+1; i++ {
		PutMPLS(deep[4*i:], 100, 0, i == MaxMPLSLabels, 1)
	}
	if _, ok := MPLSStackLen(deep); ok {
		t.Fatal("stack deeper than MaxMPLSLabels accepted")
	}
	if n, ok := MPLSStackLen(deep[4:]); !ok || n != 4*MaxMPLSLabels {
		t.Fatal("stack of MaxMPLSLabels refused")
	}
}

func FuzzTunnel(f *testing.F) {
	f.Add([]byte{0x08, 0, 0, 0, 0, 0, 1, 0, 9})
	f.Add([]byte{0x01, 0x40, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 0x80, 0, 5})
	f.Add([]byte{0, 1, 0, 64, 0, 2, 1, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		if v := VXLAN(b); v.IsValid() {
			_ = v.VNI()
			if len(v.Payload()) != len(b)-VXLANLen {
				t.Fatal("vxlan payload")
			}
		}
		if g := Geneve(b); g.IsValid() {
			_, _, _, _ = g.VNI(), g.Protocol(), g.OAM(), g.Critical()
			if len(g.Options()) != g.OptionsLen() || len(g.Options())+len(g.Payload())+GeneveMinLen != len(b) {
				t.Fatal("geneve options/payload")
			}
			if GeneveOptionsValid(g.Options()) {
				c := make([]byte, GeneveMinLen+g.OptionsLen())
				PutGeneve(c, g.VNI(), g.Protocol(), g.Options())
				if !bytes.Equal(c[GeneveMinLen:], g.Options()) || Geneve(c).VNI() != g.VNI() {
					t.Fatal("geneve rebuild")
				}
			}
		}
		if n, ok := MPLSStackLen(b); ok {
			if n%4 != 0 || n > len(b) || !MPLS(b[n-4:]).BottomOfStack() {
				t.Fatal("mpls stack")
			}
			for i := 0; i < n-4; i += 4 {
				if MPLS(b[i:]).BottomOfStack() {
					t.Fatal("bottom of stack before the end")
				}
			}
			m := MPLS(b)
			c := make([]byte, 4)
			PutMPLS(c, m.Label(), m.TC(), m.BottomOfStack(), m.TTL())
			if !bytes.Equal(c, b[:4]) {
				t.Fatal("mpls rebuild")
			}
		}
	})
}
