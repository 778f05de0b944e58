package gso

import (
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// A kernel VTEP hands a TCP flow to its underlay as UDP-tunnel super-frames
// (SKB_GSO_UDP_TUNNEL): one outer IP/UDP datagram carrying the tunnel
// header and one inner TCP super-frame. The virtio-net header has no type
// for that, and AF_PACKET reports such a frame as plain TCP GSO of the
// inner packet: gso_type TCPv4 or TCPv6 with gso_size the inner MSS and
// the checksum start on the inner TCP header.
//
//	[eth][outer IP][UDP][VXLAN|Geneve][inner eth][inner IP][TCP][payload ...]
//	     l3         udp                          inner      CsumStart
//
// A router forwarding it must cut it as the kernel's UDP-tunnel GSO does:
// each segment a whole tunnel datagram, outer and inner headers repeated.

// udpTunnelLayout finds the outer IP header (l3), the outer UDP header and
// the inner IP header of a TCP super-frame inside a UDP tunnel. The inner
// IP header is the one that ends where CsumStart puts the TCP header, of
// the version the GSO type says, carrying TCP. ok is false for anything
// else (a plain TCP super-frame among others).
func udpTunnelLayout(p *pkt.Packet, b []byte) (l3, udp, inner int, v4 bool, ok bool) {
	g := &p.GSO
	if (g.Type != pkt.GSOTCPv4 && g.Type != pkt.GSOTCPv6) || !g.NeedsCsum || g.CsumOffset != 16 {
		return
	}
	l3, version, ok := locateL3(p, b)
	if !ok {
		return 0, 0, 0, false, false
	}
	ok = false
	if version == 4 {
		ip := hdr.IPv4(b[l3:])
		if !ip.IsValid() || ip.IsFragment() || ip.Protocol() != hdr.IPProtoUDP {
			return
		}
		udp, v4 = l3+ip.HeaderLen(), true
	} else {
		if len(b) < l3+hdr.IPv6Len {
			return
		}
		pr, off, frag, valid := hdr.IPv6Transport(hdr.IPv6(b[l3:]))
		if !valid || frag || pr != hdr.IPProtoUDP {
			return
		}
		udp = l3 + off
	}
	tcp := int(g.CsumStart)
	if tcp+20 > len(b) || !hdr.TCP(b[tcp:]).IsValid() {
		return
	}
	min := udp + hdr.UDPLen + hdr.EthernetLen // at least the inner Ethernet header between
	if g.Type == pkt.GSOTCPv4 {
		for ihl := 5; ihl <= 15; ihl++ {
			c := tcp - 4*ihl
			if c < min {
				break
			}
			if b[c] == 0x40|byte(ihl) && b[c+9] == hdr.IPProtoTCP {
				return l3, udp, c, v4, true
			}
		}
		return
	}
	c := tcp - hdr.IPv6Len
	if c >= min && b[c]>>4 == 6 && b[c+6] == hdr.IPProtoTCP {
		return l3, udp, c, v4, true
	}
	return
}

// UDPTunnelHeaders reports whether p is a TCP super-frame inside a UDP
// tunnel, and the bytes from its outer IP header to the end of the inner
// TCP header: what every segment repeats in front of its payload, for path
// MTU checks.
func UDPTunnelHeaders(p *pkt.Packet) (n int, ok bool) {
	b := p.Bytes()
	l3, _, _, _, ok := udpTunnelLayout(p, b)
	if !ok {
		return 0, false
	}
	tcp := int(p.GSO.CsumStart)
	return tcp + hdr.TCP(b[tcp:]).DataOffset() - l3, true
}

// UDPTunnelOffsets reports whether p is a TCP super-frame inside a UDP
// tunnel, with the offsets of its outer UDP header and inner IP header
// and whether the outer IP is IPv6: what a port that takes UDP-tunnel GSO
// needs to hand it to the kernel whole.
func UDPTunnelOffsets(p *pkt.Packet) (udp, inner int, v6, ok bool) {
	_, udp, inner, v4, ok := udpTunnelLayout(p, p.Bytes())
	return udp, inner, !v4, ok
}

// SegmentUDPTunnel splits a TCP super-frame inside a UDP tunnel (see
// above) into whole tunnel datagrams of at most p.GSO.Size inner payload
// bytes, taken from pool and stored in out[:n]. The inner packet is cut as
// Segment cuts a TCP super-frame (lengths, IPv4 IDs, sequence numbers,
// flags, full checksums); the outer headers are repeated with their
// lengths, IPv4 ID (the super-frame's plus the segment index) and header
// checksum fixed, and the outer UDP checksum computed if the super-frame
// had one (a partial checksum is non-zero) and left 0 if not. ok is false,
// with nothing taken from pool, for a frame that is not such a super-frame
// or cannot be cut. p is neither freed nor changed.
func SegmentUDPTunnel(p *pkt.Packet, pool *pkt.Pool, out []*pkt.Packet) (n int, ok bool) {
	b := p.Bytes()
	l3, udp, inner, v4, ok := udpTunnelLayout(p, b)
	if !ok {
		return 0, false
	}
	outerCsum := binary.BigEndian.Uint16(b[udp+6:]) != 0
	var version uint8 = 6
	var id uint16
	if v4 {
		version, id = 4, hdr.IPv4(b[l3:]).ID()
	}
	src, dst := ipAddrs(b[l3:], version)
	// Segment copies everything before the L3 offset it is given as it
	// is: pointed at the inner header, it cuts the inner packet and
	// repeats the outer headers verbatim, to be fixed up below.
	saved := p.L3
	p.L3 = uint16(inner)
	n, ok = Segment(p, pool, out)
	p.L3 = saved
	if !ok {
		return 0, false
	}
	for i := 0; i < n; i++ {
		q := out[i]
		f := q.Bytes()
		if v4 {
			ip := hdr.IPv4(f[l3:])
			ip.SetTotalLen(uint16(len(f) - l3))
			ip.SetID(id + uint16(i))
			ip.UpdateChecksum()
		} else {
			hdr.IPv6(f[l3:]).SetPayloadLen(uint16(len(f) - l3 - hdr.IPv6Len))
		}
		u := hdr.UDP(f[udp:])
		u.SetLength(uint16(len(f) - udp))
		u.SetChecksum(0)
		if outerCsum {
			c := hdr.TransportChecksum(src, dst, hdr.IPProtoUDP, f[udp:])
			if c == 0 {
				c = 0xffff
			}
			u.SetChecksum(c)
		}
		q.L3, q.L4 = uint16(l3), uint16(udp)
	}
	return n, true
}
