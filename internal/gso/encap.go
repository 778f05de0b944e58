package gso

import (
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// tcpSuper is the layout of a TCP super-frame: network header at l3
// (version 4 or 6), TCP at l4, payload from hlen to end.
type tcpSuper struct {
	l3, l4, hlen, end int
	version           uint8
}

// parseTCPSuper parses p as Segment does for TCPv4/TCPv6.
func parseTCPSuper(p *pkt.Packet, t *tcpSuper) bool {
	if p.GSO.Type != pkt.GSOTCPv4 && p.GSO.Type != pkt.GSOTCPv6 || p.GSO.Size == 0 {
		return false
	}
	b := p.Bytes()
	l3, l4, end, version, proto, ok := superLayout(p, b)
	if !ok || (p.GSO.Type == pkt.GSOTCPv4) != (version == 4) || proto != hdr.IPProtoTCP {
		return false
	}
	tc := hdr.TCP(b[l4:end])
	if !tc.IsValid() {
		return false
	}
	*t = tcpSuper{l3: l3, l4: l4, hlen: l4 + tc.DataOffset(), end: end, version: version}
	return true
}

// EncapUSO segments the TCP super-frame p (an inner frame, as Segment
// takes it) and lays the segments out as tunnel datagrams in UDP-L4 (USO)
// super-frames, what a VTEP would send if a port took UDP-tunnel GSO:
//
//	[outer][tun][segment 0][tun][segment 1]...   Size = len(tun) + segment
//
// outer is the Ethernet, IP and UDP headers of one tunnel datagram (IPv4
// or IPv6 by its IP version, no options or extension headers: as
// tunnel.PushUDPTunnel builds them), tun the tunnel header in front of
// every segment. Each segment is the one Segment would produce (lengths,
// IPv4 IDs, sequence numbers, flags, full checksums). Each output packet
// holds as many datagrams as fit 64 KiB of IP packet; its outer IP and UDP
// lengths are set, its IPv4 ID is outer's plus the index of its first
// datagram (the IDs segmentation gives its datagrams follow on), and its
// UDP checksum is left partial (GSO: UDP-L4, partial checksum on the outer
// UDP header); a packet of one datagram is a plain datagram with a
// partial checksum. The metadata is p's (copyMeta), with L3 and L4 the
// outer headers'.
//
// It returns the packets in out[:n] and the datagrams they carry; ok is
// false, with nothing taken from pool, when p is not a TCP super-frame
// Segment would cut, a full datagram's IP packet would exceed mtu, or out
// or pool is too small. p is not changed. It never allocates.
func EncapUSO(p *pkt.Packet, outer, tun []byte, mtu int, pool *pkt.Pool, out []*pkt.Packet) (n, datagrams int, ok bool) {
	var t tcpSuper
	if !parseTCPSuper(p, &t) || len(outer) < hdr.EthernetLen+hdr.IPv4MinLen+hdr.UDPLen {
		return 0, 0, false
	}
	ov := outer[hdr.EthernetLen] >> 4
	ipLen := hdr.IPv4MinLen
	switch {
	case ov == 6:
		ipLen = hdr.IPv6Len
	case ov != 4:
		return 0, 0, false
	}
	udpOff := hdr.EthernetLen + ipLen
	if len(outer) != udpOff+hdr.UDPLen {
		return 0, 0, false
	}
	mss := int(p.GSO.Size)
	size := len(tun) + t.hlen + mss // datagram payload of a full segment
	if ipLen+hdr.UDPLen+size > mtu {
		return 0, 0, false
	}
	perFrame := (0xffff - hdr.UDPLen) / size
	if ov == 4 {
		perFrame = (0xffff - ipLen - hdr.UDPLen) / size
	}
	total := t.end - t.hlen
	nseg := max((total+mss-1)/mss, 1)
	nfr := (nseg + perFrame - 1) / perFrame
	if perFrame == 0 || nfr > len(out) || pool.Available() < nfr {
		return 0, 0, false
	}
	b := p.Bytes()
	isrc, idst := ipAddrs(b[t.l3:], t.version)
	var iid uint16
	if t.version == 4 {
		iid = hdr.IPv4(b[t.l3:]).ID()
	}
	seq, flags := hdr.TCP(b[t.l4:]).Seq(), hdr.TCP(b[t.l4:]).Flags()
	var oid uint16
	if ov == 4 {
		oid = hdr.IPv4(outer[hdr.EthernetLen:]).ID()
	}
	osrc, odst := ipAddrs(outer[hdr.EthernetLen:], ov)
	off := t.hlen // next payload byte of p
	seg := 0
	for j := 0; j < nfr; j++ {
		m := min(perFrame, nseg-seg)
		q := pool.Get()
		out[j] = q
		rest := total - (off - t.hlen)
		flen := len(outer) + m*(len(tun)+t.hlen) + min(rest, m*mss)
		q.SetFrame(flen)
		f := q.Bytes()
		copy(f, outer)
		w := len(outer)
		for k := 0; k < m; k, seg = k+1, seg+1 {
			w += copy(f[w:], tun)
			sl := min(mss, t.end-off)
			in := f[w : w+t.hlen+sl]
			copy(in, b[:t.hlen])
			copy(in[t.hlen:], b[off:off+sl])
			if t.version == 4 {
				ip := hdr.IPv4(in[t.l3:])
				ip.SetTotalLen(uint16(t.hlen - t.l3 + sl))
				ip.SetID(iid + uint16(seg))
				ip.UpdateChecksum()
			} else {
				hdr.IPv6(in[t.l3:]).SetPayloadLen(uint16(t.hlen - t.l3 - hdr.IPv6Len + sl))
			}
			tc := hdr.TCP(in[t.l4:])
			tc.SetSeq(seq + uint32(seg*mss))
			tc.SetFlags(segmentFlags(flags, seg, nseg))
			tc.SetChecksum(hdr.TransportChecksum(isrc, idst, hdr.IPProtoTCP, in[t.l4:]))
			w += len(in)
			off += sl
		}
		if ov == 4 {
			ip := hdr.IPv4(f[hdr.EthernetLen:])
			ip.SetTotalLen(uint16(flen - hdr.EthernetLen))
			ip.SetID(oid + uint16(seg-m))
			ip.UpdateChecksum()
		} else {
			hdr.IPv6(f[hdr.EthernetLen:]).SetPayloadLen(uint16(flen - udpOff))
		}
		hdr.UDP(f[udpOff:]).SetLength(uint16(flen - udpOff))
		binary.BigEndian.PutUint16(f[udpOff+6:], ^hdr.Fold(hdr.PseudoHeaderSum(osrc, odst, hdr.IPProtoUDP, flen-udpOff)))
		copyMeta(q, p)
		q.L3, q.L4 = hdr.EthernetLen, uint16(udpOff)
		q.EtherType = binary.BigEndian.Uint16(outer[12:])
		q.GSO = pkt.GSO{NeedsCsum: true, CsumStart: uint16(udpOff), CsumOffset: 6}
		if m > 1 {
			q.GSO.Type, q.GSO.Size, q.GSO.HdrLen = pkt.GSOUDPL4, uint16(size), uint16(udpOff+hdr.UDPLen)
		}
	}
	return nfr, nseg, true
}
