package gso

import (
	"net/netip"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// locateL3 finds the network header: at p.L3 when the ethernet input set
// it, else after the Ethernet header and its VLAN tags. It returns the
// offset and the IP version (4 or 6), or ok=false.
func locateL3(p *pkt.Packet, b []byte) (l3 int, version uint8, ok bool) {
	want := uint8(0) // any
	if p.L3 != 0 {
		l3 = int(p.L3)
	} else {
		et, off, _, ok := hdr.L2Payload(b)
		switch {
		case !ok:
			return 0, 0, false
		case et == hdr.EtherTypeIPv4:
			want = 4
		case et == hdr.EtherTypeIPv6:
			want = 6
		default:
			return 0, 0, false
		}
		l3 = off
	}
	if l3 >= len(b) {
		return 0, 0, false
	}
	version = b[l3] >> 4
	if (version != 4 && version != 6) || (want != 0 && version != want) {
		return 0, 0, false
	}
	return l3, version, true
}

// ipEnd returns the offset of the end of the IP packet at l3 (frame
// padding excluded), or ok=false if the header is not valid.
func ipEnd(b []byte, l3 int, version uint8) (int, bool) {
	if version == 4 {
		ip := hdr.IPv4(b[l3:])
		if !ip.IsValid() {
			return 0, false
		}
		return l3 + int(ip.TotalLen()), true
	}
	ip := hdr.IPv6(b[l3:])
	if !ip.IsValid() {
		return 0, false
	}
	return l3 + hdr.IPv6Len + int(ip.PayloadLen()), true
}

// routedV6 reports whether the IPv6 header chain before off has a routing
// header with segments left: the pseudo header would then need the final
// destination, not the one in the IPv6 header. Such super-frames do not
// occur in practice and are refused rather than given wrong checksums.
func routedV6(ip []byte, off int) bool {
	nh, i := ip[6], hdr.IPv6Len
	for i+8 <= off {
		var n int
		switch nh {
		case hdr.IPProtoRouting:
			if ip[i+3] != 0 {
				return true
			}
			n = (int(ip[i+1]) + 1) * 8
		case hdr.IPProtoHopByHop, hdr.IPProtoDestOpts:
			n = (int(ip[i+1]) + 1) * 8
		case hdr.IPProtoAH:
			n = (int(ip[i+1]) + 2) * 4
		default: // fragment header: 8 bytes
			n = 8
		}
		nh, i = ip[i], i+n
	}
	return false
}

// CompleteChecksum finishes a partial checksum (p.GSO.NeedsCsum): the field
// at CsumStart+CsumOffset holds the pseudo-header sum, as a sender with
// checksum offload leaves it; the ones'-complement sum from CsumStart to the
// end of the IP packet (the frame end if there is no IP header to say) is
// folded and stored there, and NeedsCsum cleared. A result of 0 is stored as
// 0xffff, which means the same to TCP and is required by UDP. It reports
// true if there was nothing to do, false (changing nothing) if the offsets
// are outside the frame or CsumOffset is odd.
func CompleteChecksum(p *pkt.Packet) bool {
	if !p.GSO.NeedsCsum {
		return true
	}
	b := p.Bytes()
	end := len(b)
	start := int(p.GSO.CsumStart)
	if l3, v, ok := locateL3(p, b); ok {
		if e, ok := ipEnd(b, l3, v); ok {
			end = e
			// The summed region is the transport part: a start inside
			// the IP header would write the checksum over the header
			// (and the length it was computed with).
			hl := hdr.IPv6Len
			if v == 4 {
				hl = hdr.IPv4(b[l3:]).HeaderLen()
			}
			if start < l3+hl {
				return false
			}
		} else {
			return false // an IP header that does not hold up: no checksum to trust
		}
	}
	field := start + int(p.GSO.CsumOffset)
	// An odd offset puts the field across 16-bit words: no sum can fill it.
	if start >= end || field+2 > end || p.GSO.CsumOffset&1 != 0 {
		return false
	}
	c := hdr.Checksum(b[start:end], 0)
	if c == 0 {
		c = 0xffff
	}
	b[field], b[field+1] = byte(c>>8), byte(c)
	p.GSO.NeedsCsum = false
	return true
}

// copyMeta gives a segment or fragment q the metadata of its source p,
// writing only what is set; the GSO state stays clear (q was just taken
// from a pool), so q is a plain frame with complete checksums.
func copyMeta(q, p *pkt.Packet) {
	q.InPort, q.Table, q.Mark, q.Hash = p.InPort, p.Table, p.Mark, p.Hash
	q.L3, q.L4, q.EtherType, q.VLAN = p.L3, p.L4, p.EtherType, p.VLAN
	q.OutPort, q.NextHop, q.MTU, q.Encap = p.OutPort, p.NextHop, p.MTU, p.Encap
	switch p.Meta.Kind {
	case pkt.MetaTunnel:
		q.Meta.SetTunnel(&p.Meta.Tunnel)
	case pkt.MetaPortMux:
		q.Meta.SetPortMux(p.Meta.Port.Lower, p.Meta.Port.PortID)
	}
}

// giveBack returns out[:n] to the pool after a failure.
func giveBack(pool *pkt.Pool, out []*pkt.Packet, n int) {
	for i := 0; i < n; i++ {
		pool.Put(out[i])
		out[i] = nil
	}
}

// segmentFlags are the TCP flags of segment i of nseg cut from a
// super-frame with flags: FIN and PSH only on the last, CWR only on the
// first (tcp_gso_segment).
func segmentFlags(flags uint8, i, nseg int) uint8 {
	if i < nseg-1 {
		flags &^= hdr.TCPFlagFIN | hdr.TCPFlagPSH
	}
	if i > 0 {
		flags &^= hdr.TCPFlagCWR
	}
	return flags
}

// Segment splits the TCPv4, TCPv6 or UDP-L4 super-frame p into frames of
// at most p.GSO.Size payload bytes each, taken from pool and stored in
// out[:n]. Each is a whole packet with its own correct lengths, IPv4 ID
// (the super-frame's plus the segment index, as the kernel does), header
// checksum, TCP sequence number and flags, and full L4 checksum; the
// Ethernet header and VLAN tags are copied as they are, the metadata from p,
// and GSO is left clear. GSOUDP (UFO) is the IPv4 fragmentation of one
// datagram into fragments of Size payload bytes (see FragmentIPv4).
//
// The headers are parsed from the frame, not taken from GSO.HdrLen or
// CsumStart (senders get those wrong); IPv6 extension headers are copied to
// every segment. ok is false, with n 0 and every packet taken back in the
// pool, for a malformed frame, an unsupported type (GSONone included), a
// Size of 0, or too small an out or pool. p is neither freed nor changed.
func Segment(p *pkt.Packet, pool *pkt.Pool, out []*pkt.Packet) (n int, ok bool) {
	return segment(p, pool, out, true)
}

// SplitUDP is Segment for a UDP-L4 super-frame whose datagrams are
// consumed here rather than sent on (tunnel datagrams to decapsulate):
// their UDP checksums are left 0 instead of computed, the super-frame's
// partial checksum having said its data is trusted. Other types are
// refused.
func SplitUDP(p *pkt.Packet, pool *pkt.Pool, out []*pkt.Packet) (n int, ok bool) {
	if p.GSO.Type != pkt.GSOUDPL4 {
		return 0, false
	}
	return segment(p, pool, out, false)
}

// superLayout finds, in frame b of super-frame p, the network header (l3,
// its version), the transport header (l4, its protocol) and the end of the
// IP packet: what every segment repeats and where the payload ends. ok is
// false for a fragment, an IPv6 packet with a routing header that still
// has segments left, or anything malformed.
func superLayout(p *pkt.Packet, b []byte) (l3, l4, end int, version, proto uint8, ok bool) {
	if l3, version, ok = locateL3(p, b); !ok {
		return
	}
	if end, ok = ipEnd(b, l3, version); !ok {
		return
	}
	if version == 4 {
		ip := hdr.IPv4(b[l3:])
		if ip.IsFragment() {
			return 0, 0, 0, 0, 0, false
		}
		return l3, l3 + ip.HeaderLen(), end, version, ip.Protocol(), true
	}
	pr, off, frag, valid := hdr.IPv6Transport(hdr.IPv6(b[l3:]))
	if !valid || frag || routedV6(b[l3:], off) {
		return 0, 0, 0, 0, 0, false
	}
	return l3, l3 + off, end, version, pr, true
}

func segment(p *pkt.Packet, pool *pkt.Pool, out []*pkt.Packet, udpCsum bool) (n int, ok bool) {
	switch p.GSO.Type {
	case pkt.GSOTCPv4, pkt.GSOTCPv6, pkt.GSOUDPL4:
	case pkt.GSOUDP:
		return segmentUFO(p, pool, out)
	default:
		return 0, false
	}
	mss := int(p.GSO.Size)
	if mss == 0 {
		return 0, false
	}
	b := p.Bytes()
	l3, l4, end, version, proto, ok := superLayout(p, b)
	if !ok {
		return 0, false
	}
	var hlen int // offset of the payload: all headers
	switch p.GSO.Type {
	case pkt.GSOTCPv4, pkt.GSOTCPv6:
		if proto != hdr.IPProtoTCP || (p.GSO.Type == pkt.GSOTCPv4) != (version == 4) {
			return 0, false
		}
		t := hdr.TCP(b[l4:end])
		if !t.IsValid() {
			return 0, false
		}
		hlen = l4 + t.DataOffset()
	default: // UDP-L4
		if proto != hdr.IPProtoUDP || l4+hdr.UDPLen > end {
			return 0, false
		}
		hlen = l4 + hdr.UDPLen
	}
	total := end - hlen
	nseg := (total + mss - 1) / mss
	if nseg == 0 {
		nseg = 1 // headers only: one packet with fixed-up checksums
	}
	if nseg > len(out) {
		return 0, false
	}

	src, dst := ipAddrs(b[l3:], version)
	var id uint16
	if version == 4 {
		id = hdr.IPv4(b[l3:]).ID()
	}
	var seq uint32
	var flags uint8
	if proto == hdr.IPProtoTCP {
		seq, flags = hdr.TCP(b[l4:]).Seq(), hdr.TCP(b[l4:]).Flags()
	}
	off := hlen
	for i := 0; i < nseg; i++ {
		q := pool.Get()
		if q == nil {
			giveBack(pool, out, i)
			return 0, false
		}
		out[i] = q
		seg := end - off
		if seg > mss {
			seg = mss
		}
		q.SetFrame(hlen + seg)
		f := q.Bytes()
		copy(f, b[:hlen])
		copy(f[hlen:], b[off:off+seg])
		copyMeta(q, p)
		q.L3, q.L4 = uint16(l3), uint16(l4)

		if version == 4 {
			ip := hdr.IPv4(f[l3:])
			ip.SetTotalLen(uint16(hlen - l3 + seg))
			ip.SetID(id + uint16(i))
			ip.UpdateChecksum()
		} else {
			hdr.IPv6(f[l3:]).SetPayloadLen(uint16(hlen - l3 - hdr.IPv6Len + seg))
		}
		l4b := f[l4:]
		if proto == hdr.IPProtoTCP {
			t := hdr.TCP(l4b)
			t.SetSeq(seq + uint32(i*mss))
			t.SetFlags(segmentFlags(flags, i, nseg))
			t.SetChecksum(hdr.TransportChecksum(src, dst, proto, l4b))
		} else {
			u := hdr.UDP(l4b)
			u.SetLength(uint16(len(l4b)))
			if udpCsum {
				u.SetChecksum(hdr.TransportChecksum(src, dst, proto, l4b))
			} else {
				u.SetChecksum(0)
			}
		}
		off += seg
	}
	return nseg, true
}

// ipAddrs reads the source and destination of the IP header ip.
func ipAddrs(ip []byte, version uint8) (src, dst netip.Addr) {
	if version == 4 {
		return hdr.IPv4(ip).Src(), hdr.IPv4(ip).Dst()
	}
	return hdr.IPv6(ip).Src(), hdr.IPv6(ip).Dst()
}
