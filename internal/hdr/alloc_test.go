package hdr

import (
	"net/netip"
	"testing"
)

func TestNoAllocs(t *testing.T) {
	f := buildIPv4UDP(make([]byte, 1400))
	tcp := make([]byte, 20)
	tcp[12] = 0x50
	v6 := v6WithChain(IPProtoHopByHop, ext(IPProtoRouting, 1), tcp)
	na := make([]byte, 32)
	PutNDPNeighborAdvert(na, v6A, NDPFlagSolicited, macB)
	big := make([]byte, 65536)
	var sinkA netip.Addr
	var sinkM MAC
	var n int
	checks := map[string]func(){
		"ipv4 getters/setters": func() {
			ip := IPv4(f[14:])
			if ip.IsValid() {
				sinkA = ip.Src()
				sinkA = ip.Dst()
				n += len(ip.Payload()) + ip.FragOffset() + int(ip.TTL())
				ip.SetSrc(v4A)
				ip.SetDst(v4B)
				ip.SetFragment(true, false, 0)
				ip.SetTTL(64)
				ip.UpdateChecksum()
			}
		},
		"DecTTL":    func() { IPv4(f[14:]).DecTTL(); IPv4(f[14:]).SetTTL(64); IPv4(f[14:]).UpdateChecksum() },
		"Sum 64KiB": func() { n += int(Sum(big, 0)) },
		"Transport": func() { p, o, _, _ := IPv6Transport(v6); n += int(p) + o },
		"L2Payload": func() { _, o, _, _ := L2Payload(f); n += o },
		"ethernet":  func() { e := Ethernet(f); sinkM = e.Dst(); e.SetSrc(sinkM); n += int(e.EtherType()) },
		"ipv6":      func() { ip := IPv6(v6); sinkA = ip.Src(); ip.SetDst(v6B); ip.DecHopLimit(); ip.SetHopLimit(64) },
		"l4 checksum": func() {
			u := UDP(f[34:])
			u.SetChecksum(TransportChecksum(v4A, v4B, IPProtoUDP, u))
		},
		"update addr": func() { n += int(UpdateChecksumAddr(0x1234, v6A, v6B) + UpdateChecksum32(1, 2, 3)) },
		"ndp": func() {
			m, _ := NDPNeighborAdvert(na).TargetLinkAddr()
			sinkM = m
			n += PutNDPNeighborSolicit(na, v6A, macA, true)
			PutNDPNeighborAdvert(na, v6A, NDPFlagSolicited, macB)
			ICMPv6(na).UpdateChecksum(v6A, v6B)
			sinkA = SolicitedNodeMulticast(v6A)
		},
		"tunnel": func() {
			PutVXLAN(big, 42)
			n += int(VXLAN(big).VNI())
			n += PutGeneve(big, 7, EtherTypeTEB, nil) + int(Geneve(big).VNI())
			PutMPLS(big, 100, 0, true, 64)
			k, _ := MPLSStackLen(big)
			n += k
		},
		"builders": func() {
			PutEthernet(f, macB, macA, EtherTypeIPv4)
			PutIPv4(f[14:], &IPv4Fields{TotalLen: uint16(len(f) - 14), TTL: 64, Protocol: IPProtoUDP, Src: v4A, Dst: v4B})
			PutARP(big, ARPReply, macA, v4A, macB, v4B)
		},
	}
	for name, fn := range checks {
		if a := testing.AllocsPerRun(100, fn); a != 0 {
			t.Errorf("%s: %v allocs", name, a)
		}
	}
	_, _ = sinkA, sinkM
}

func BenchmarkDecTTL(b *testing.B) {
	f := buildIPv4UDP(make([]byte, 64))
	ip := IPv4(f[14:])
	for b.Loop() {
		ip.DecTTL()
		ip[8] = 64 // keep it from reaching zero; the checksum is patched anyway
	}
}

func BenchmarkIPv6Transport(b *testing.B) {
	tcp := make([]byte, 20)
	tcp[12] = 0x50
	v6 := v6WithChain(IPProtoHopByHop, ext(IPProtoRouting, 1), tcp)
	for b.Loop() {
		IPv6Transport(v6)
	}
}
