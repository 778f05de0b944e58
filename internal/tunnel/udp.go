package tunnel

import (
	"encoding/binary"
	"math/bits"
	"net/netip"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// Outer describes the outer IP and UDP headers of a UDP tunnel packet.
// The family is Dst's: an IPv4 Dst builds IPv4 (Src must be IPv4 too), any
// other valid Dst builds IPv6.
type Outer struct {
	Src, Dst  netip.Addr
	TOS       uint8 // IPv4 TOS / IPv6 traffic class, ECN bits included (see ECNEncap)
	TTL       uint8 // IPv4 TTL / IPv6 hop limit, already resolved (0 is written as 0)
	DF        bool  // IPv4 don't-fragment
	FlowLabel uint32
	SrcPort   uint16
	DstPort   uint16
	// Csum asks for a UDP checksum. Without it the checksum field is 0,
	// which is "none" over IPv4 and the RFC 6935 zero-checksum exception
	// over IPv6. The kernel computes one over IPv6 unless the device has
	// udp6zerocsumtx, and in metadata mode only with TUNNEL_CSUM, so the
	// caller decides for both families.
	Csum bool
	ID   uint16 // IPv4 identification
}

// PushUDPTunnel prepends, in p's headroom, an outer frame in front of p's
// current frame (the inner Ethernet frame):
//
//	[Ethernet 14][IPv4 20 | IPv6 40][UDP 8][tunHdr][inner frame]
//
// It fills the outer Ethernet type (the MAC addresses are left for the
// caller's L2 rewrite), the IP header with its lengths (and the IPv4 header
// checksum), the UDP header (and its checksum over everything after it
// when o.Csum), copies tunHdr, and sets p.L3 = 14, p.L4 and p.EtherType.
// It returns false, with p unchanged, if the addresses are not of one
// family, the headroom is too small, a length does not fit its 16-bit field
// or the frame would exceed pkt.MaxFrame.
func PushUDPTunnel(p *pkt.Packet, o *Outer, tunHdr []byte) bool {
	v4 := o.Dst.Is4()
	ipLen := hdr.IPv6Len
	if v4 {
		if !o.Src.Is4() {
			return false
		}
		ipLen = hdr.IPv4MinLen
	} else if !o.Dst.IsValid() || !o.Src.IsValid() || o.Src.Is4() {
		return false
	}
	push := hdr.EthernetLen + ipLen + hdr.UDPLen + len(tunHdr)
	udpLen := hdr.UDPLen + len(tunHdr) + p.Len()
	if udpLen > 0xffff || (v4 && ipLen+udpLen > 0xffff) ||
		p.Len()+push > pkt.MaxFrame || push > p.Headroom() {
		return false
	}
	p.Prepend(push)
	f := p.Bytes()
	l4 := hdr.EthernetLen + ipLen
	copy(f[l4+hdr.UDPLen:], tunHdr)
	hdr.PutUDP(f[l4:], o.SrcPort, o.DstPort, uint16(udpLen))
	if v4 {
		binary.BigEndian.PutUint16(f[12:], hdr.EtherTypeIPv4)
		hdr.PutIPv4(f[hdr.EthernetLen:], &hdr.IPv4Fields{
			TOS: o.TOS, TotalLen: uint16(ipLen + udpLen), ID: o.ID, DF: o.DF,
			TTL: o.TTL, Protocol: hdr.IPProtoUDP, Src: o.Src, Dst: o.Dst,
		})
		p.EtherType = hdr.EtherTypeIPv4
	} else {
		binary.BigEndian.PutUint16(f[12:], hdr.EtherTypeIPv6)
		hdr.PutIPv6(f[hdr.EthernetLen:], &hdr.IPv6Fields{
			TrafficClass: o.TOS, FlowLabel: o.FlowLabel, PayloadLen: uint16(udpLen),
			NextHeader: hdr.IPProtoUDP, HopLimit: o.TTL, Src: o.Src, Dst: o.Dst,
		})
		p.EtherType = hdr.EtherTypeIPv6
	}
	if o.Csum {
		u := hdr.UDP(f[l4:])
		u.SetChecksum(hdr.TransportChecksum(o.Src, o.Dst, hdr.IPProtoUDP, u))
	}
	p.L3, p.L4 = hdr.EthernetLen, uint16(l4)
	return true
}

// The kernel's default net.ipv4.ip_local_port_range, the source port range
// of a tunnel device without "srcport MIN MAX".
const (
	PortRangeMin = 32768
	PortRangeMax = 60999
)

// SourcePort is udp_flow_src_port: the UDP source port for a flow of hash
// hash, in [min, max); with min >= max (no srcport configured) in
// [PortRangeMin, PortRangeMax). max itself is never returned.
func SourcePort(hash uint32, min, max uint16) uint16 {
	lo, hi := uint64(min), uint64(max)
	if min >= max {
		lo, hi = PortRangeMin, PortRangeMax
	}
	hash ^= hash << 16
	return uint16((uint64(hash)*(hi-lo))>>32 + lo)
}

// InnerFlowHash hashes the flow of an inner Ethernet frame, for the tunnel
// source port (§3.5): IPv4 or IPv6 addresses and protocol, plus the ports
// of TCP, UDP, UDP-Lite, SCTP and DCCP when the packet is not a fragment;
// for anything else (ARP, short or malformed IP) the two MAC addresses
// seeded with the ethertype, as the kernel falls back to with use_eth. The
// result is stable for a flow and never 0. The function is not the
// kernel's flow dissector hash: the spec leaves the function free as long
// as it spreads flows.
func InnerFlowHash(frame []byte) uint32 {
	et, off, _, ok := hdr.L2Payload(frame)
	if ok {
		switch et {
		case hdr.EtherTypeIPv4:
			if h, ok := hashIPv4(frame[off:]); ok {
				return nonZero(h)
			}
		case hdr.EtherTypeIPv6:
			if h, ok := hashIPv6(frame[off:]); ok {
				return nonZero(h)
			}
		}
	}
	n := min(len(frame), 12)
	h := uint32(0x9747b28c) ^ uint32(et)
	for i := 0; i+4 <= n; i += 4 {
		h = mix(h, binary.BigEndian.Uint32(frame[i:]))
	}
	for i := n &^ 3; i < n; i++ {
		h = mix(h, uint32(frame[i]))
	}
	return nonZero(h)
}

// hashIPv4 hashes addresses, protocol and ports. It reads the header
// without IPv4.IsValid: a GSO super-frame may carry a total length the
// hash does not need.
func hashIPv4(b []byte) (uint32, bool) {
	if len(b) < hdr.IPv4MinLen || b[0]>>4 != 4 {
		return 0, false
	}
	hl := int(b[0]&0x0f) * 4
	if hl < hdr.IPv4MinLen || hl > len(b) {
		return 0, false
	}
	proto := b[9]
	h := mix(0x2f1b4d53, binary.BigEndian.Uint32(b[12:]))
	h = mix(h, binary.BigEndian.Uint32(b[16:]))
	h = mix(h, uint32(proto))
	if !hdr.IPv4(b).IsFragment() {
		h = mixPorts(h, proto, b[hl:])
	}
	return h, true
}

func hashIPv6(b []byte) (uint32, bool) {
	if len(b) < hdr.IPv6Len || b[0]>>4 != 6 {
		return 0, false
	}
	h := uint32(0x6c8e9cf5)
	for i := 8; i < 40; i += 4 {
		h = mix(h, binary.BigEndian.Uint32(b[i:]))
	}
	var c hdr.IPv6Chain
	if hdr.WalkIPv6(hdr.IPv6(b), &c) {
		h = mix(h, uint32(c.Proto))
		if !c.IsFragment() {
			h = mixPorts(h, c.Proto, b[c.Off:])
		}
	} else {
		h = mix(h, uint32(b[6]))
	}
	return h, true
}

func mixPorts(h uint32, proto uint8, l4 []byte) uint32 {
	switch proto {
	case hdr.IPProtoTCP, hdr.IPProtoUDP, 33 /* DCCP */, 132 /* SCTP */, 136 /* UDP-Lite */ :
		if len(l4) >= 4 {
			h = mix(h, binary.BigEndian.Uint32(l4))
		}
	}
	return h
}

// mix is one round of MurmurHash3's 32-bit block mixing.
func mix(h, k uint32) uint32 {
	k *= 0xcc9e2d51
	k = bits.RotateLeft32(k, 15)
	k *= 0x1b873593
	h ^= k
	h = bits.RotateLeft32(h, 13)
	return h*5 + 0xe6546b64
}

// nonZero is MurmurHash3's finaliser, with 0 (the kernel's "no hash")
// moved to 1.
func nonZero(h uint32) uint32 {
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	if h == 0 {
		return 1
	}
	return h
}
