package tunnel

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

var (
	macA = hdr.MAC{0x02, 0, 0, 0, 0, 0x0a}
	macB = hdr.MAC{0x02, 0, 0, 0, 0, 0x0b}
	v4A  = netip.MustParseAddr("10.1.1.1")
	v4B  = netip.MustParseAddr("10.1.1.2")
	v6A  = netip.MustParseAddr("2001:db8::1")
	v6B  = netip.MustParseAddr("2001:db8::2")
)

// ipv4UDPFrame builds Ethernet/IPv4/UDP with payload, a valid IP header
// checksum and UDP checksum.
func ipv4UDPFrame(src, dst netip.Addr, tos, ttl uint8, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 14+20+8+len(payload))
	hdr.PutEthernet(b, macB, macA, hdr.EtherTypeIPv4)
	hdr.PutIPv4(b[14:], &hdr.IPv4Fields{TOS: tos, TotalLen: uint16(28 + len(payload)), TTL: ttl,
		Protocol: hdr.IPProtoUDP, Src: src, Dst: dst, ID: 7})
	hdr.PutUDP(b[34:], sport, dport, uint16(8+len(payload)))
	copy(b[42:], payload)
	u := hdr.UDP(b[34:])
	u.SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, u))
	return b
}

// ipv6UDPFrame is ipv4UDPFrame for IPv6.
func ipv6UDPFrame(src, dst netip.Addr, tc, hop uint8, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 14+40+8+len(payload))
	hdr.PutEthernet(b, macB, macA, hdr.EtherTypeIPv6)
	hdr.PutIPv6(b[14:], &hdr.IPv6Fields{TrafficClass: tc, PayloadLen: uint16(8 + len(payload)),
		NextHeader: hdr.IPProtoUDP, HopLimit: hop, Src: src, Dst: dst})
	hdr.PutUDP(b[54:], sport, dport, uint16(8+len(payload)))
	copy(b[62:], payload)
	u := hdr.UDP(b[54:])
	u.SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, u))
	return b
}

// arpFrame is a broadcast ARP request.
func arpFrame(src hdr.MAC) []byte {
	b := make([]byte, 14+28)
	hdr.PutEthernet(b, hdr.BroadcastMAC, src, hdr.EtherTypeARP)
	hdr.PutARP(b[14:], hdr.ARPRequest, src, v4A, hdr.MAC{}, v4B)
	return b
}

// packetOf puts frame into a fresh packet of pool with L3/EtherType set as
// ethernet input would.
func packetOf(t testing.TB, pool *pkt.Pool, frame []byte) *pkt.Packet {
	t.Helper()
	p := pool.Get()
	if p == nil || !p.SetBytes(frame) {
		t.Fatal("packet")
	}
	et, off, _, ok := hdr.L2Payload(frame)
	if ok {
		p.EtherType, p.L3 = et, uint16(off)
	}
	return p
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }

func mustEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s:\n got % x\nwant % x", what, got, want)
	}
}
