package gso

import (
	"bytes"
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// TCP flag bits the coalescer looks at.
const (
	tcpACK = 0x10
	tcpPSH = 0x08
)

// seg is what Coalesce needs to know about one candidate frame: a plain
// (not GSO, complete checksum) untagged Ethernet frame carrying IPv4
// without options or IPv6 without extension headers, then TCP with data
// and no flags but ACK and PSH, or a UDP datagram with data.
type seg struct {
	v4      bool
	udp     bool
	l4      int // transport header offset
	hlen    int // offset of the payload
	payload int
	mss     int // payload per segment: payload, or GSO.Size of a super-frame
	segs    int // segments: 1, or those a super-frame is cut into
	super   bool
	seq     uint32
	id      uint16
	flags   uint8
}

// parseSeg reports whether p is a candidate and fills s. Besides plain
// segments, a TCP super-frame with a partial checksum is one (as
// MergeTunnelUSO leaves a decapsulated half of a sender's super-frame):
// built on this host, its checksum is not verified, as the kernel trusts
// CHECKSUM_PARTIAL.
func parseSeg(p *pkt.Packet, s *seg) bool {
	g := &p.GSO
	switch {
	case g.Type == pkt.GSONone && !g.NeedsCsum:
		return parseFrame(p.Bytes(), s)
	case (g.Type == pkt.GSOTCPv4 || g.Type == pkt.GSOTCPv6) && g.NeedsCsum && g.Size > 0 && g.OuterL4 == 0:
		if !parseFrame(p.Bytes(), s) || s.udp || s.v4 != (g.Type == pkt.GSOTCPv4) ||
			int(g.HdrLen) != s.hlen || int(g.CsumStart) != s.l4 || g.CsumOffset != 16 {
			return false
		}
		s.mss, s.super = int(g.Size), true
		s.segs = (s.payload + s.mss - 1) / s.mss
		return true
	}
	return false
}

// parseFrame is parseSeg on the bytes of an Ethernet frame.
func parseFrame(b []byte, s *seg) bool {
	if len(b) < hdr.EthernetLen+hdr.IPv4MinLen+hdr.TCPMinLen {
		return false
	}
	l3 := hdr.EthernetLen
	switch binary.BigEndian.Uint16(b[12:]) {
	case hdr.EtherTypeIPv4:
		ip := hdr.IPv4(b[l3:])
		// Exactly version 4 and a 20-byte header; no fragment; the
		// frame is the IP packet (no padding to account for).
		if b[l3] != 0x45 || !coalescable(ip.Protocol()) || ip.IsFragment() ||
			int(ip.TotalLen()) != len(b)-l3 {
			return false
		}
		s.v4, s.l4, s.id = true, l3+hdr.IPv4MinLen, ip.ID()
	case hdr.EtherTypeIPv6:
		if len(b) < l3+hdr.IPv6Len+hdr.TCPMinLen || b[l3]>>4 != 6 {
			return false
		}
		ip := hdr.IPv6(b[l3:])
		if !coalescable(ip.NextHeader()) || int(ip.PayloadLen()) != len(b)-l3-hdr.IPv6Len {
			return false
		}
		s.v4, s.l4, s.id = false, l3+hdr.IPv6Len, 0
	default:
		return false
	}
	s.udp = b[l3+9] == hdr.IPProtoUDP
	if !s.v4 {
		s.udp = b[l3+6] == hdr.IPProtoUDP
	}
	if s.udp {
		u := hdr.UDP(b[s.l4:])
		if int(u.Length()) != len(b)-s.l4 {
			return false
		}
		s.hlen = s.l4 + hdr.UDPLen
		s.payload = len(b) - s.hlen
		s.mss, s.segs, s.super = s.payload, 1, false
		s.seq, s.flags = 0, 0
		return s.payload > 0
	}
	t := hdr.TCP(b[s.l4:])
	doff := t.DataOffset()
	if doff < hdr.TCPMinLen || s.l4+doff > len(b) {
		return false
	}
	s.hlen = s.l4 + doff
	s.payload = len(b) - s.hlen
	s.mss, s.segs, s.super = s.payload, 1, false
	s.seq, s.flags = t.Seq(), t.Flags()
	return s.payload > 0 && s.flags&tcpACK != 0 && s.flags&^(tcpACK|tcpPSH) == 0
}

func coalescable(proto uint8) bool { return proto == hdr.IPProtoTCP || proto == hdr.IPProtoUDP }

// sameHeaders reports whether the headers of a and b (both hlen long,
// transport header at l4) are equal except in the fields that differ
// between consecutive segments of one super-frame: IP length, IPv4 ID and
// header checksum, TCP sequence number, PSH and checksum.
func sameHeaders(a, b []byte, v4 bool, l4, hlen int) bool {
	l3 := hdr.EthernetLen
	if v4 {
		// Ethernet, version/IHL, TOS | flags/fragment, TTL, protocol | addresses
		if !bytes.Equal(a[:l3+2], b[:l3+2]) || !bytes.Equal(a[l3+6:l3+10], b[l3+6:l3+10]) ||
			!bytes.Equal(a[l3+12:l4], b[l3+12:l4]) {
			return false
		}
	} else if !bytes.Equal(a[:l3+4], b[:l3+4]) || !bytes.Equal(a[l3+6:l4], b[l3+6:l4]) {
		// Ethernet, version/class/flow label | next header, hop limit, addresses
		return false
	}
	if hlen-l4 == hdr.UDPLen { // UDP: the ports (length and checksum differ)
		return bytes.Equal(a[l4:l4+4], b[l4:l4+4])
	}
	// ports | ack, data offset | window | urgent pointer, options
	return bytes.Equal(a[l4:l4+4], b[l4:l4+4]) && bytes.Equal(a[l4+8:l4+13], b[l4+8:l4+13]) &&
		bytes.Equal(a[l4+14:l4+16], b[l4+14:l4+16]) && bytes.Equal(a[l4+18:hlen], b[l4+18:hlen]) &&
		a[l4+13]&^tcpPSH == b[l4+13]&^tcpPSH
}

// segChecksumOK verifies the TCP or UDP checksum of the candidate frame
// b. A UDP checksum of 0 (none, IPv4) passes: the merged frame gets one
// when it is cut (a correct checksum is always acceptable; RFC 7348 says
// so for VXLAN, whose noudpcsum datagrams are the usual case).
func segChecksumOK(b []byte, s *seg) bool {
	proto := hdr.IPProtoTCP
	if s.udp {
		if b[s.l4+6] == 0 && b[s.l4+7] == 0 {
			return true
		}
		proto = hdr.IPProtoUDP
	}
	l3 := b[hdr.EthernetLen:]
	var sum uint32
	if s.v4 {
		ip := hdr.IPv4(l3)
		sum = hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), proto, len(b)-s.l4)
	} else {
		ip := hdr.IPv6(l3)
		sum = hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), proto, len(b)-s.l4)
	}
	return hdr.Checksum(b[s.l4:], sum) == 0
}

// maxCoalesced bounds the IP packet a merge builds (the IPv4 total length
// and the IPv6 payload length are 16-bit fields).
const maxCoalesced = 0xffff

// Coalesce merges runs of consecutive TCP segments of one flow in pkts
// back into GSO super-frames, in place, for a port that takes them
// (Offloads.TxGSO): the receive offload the kernel calls GRO, done on the
// frames a worker is about to transmit. A run is merged only when it is
// safe to undo by segmentation: every frame a plain IPv4 (no options, not
// a fragment) or IPv6 (no extension headers) TCP segment with data, the
// same Ethernet, IP and TCP headers but for lengths, IPv4 IDs (consecutive,
// or equal with DF), sequence numbers (contiguous) and checksums, no TCP
// flag but ACK (PSH ends a run and is kept), every segment but the last of
// the first one's size, each with a valid TCP checksum, at most 64 KiB of
// IP packet. A TCP super-frame with a partial checksum counts as the
// segments it would be cut into (its checksum unverified: built on this
// host), and a PSH in it does not end the run (see runOpen): so the halves
// MergeTunnelUSO makes of a sender's 64 KiB super-frame, which crossed the
// tunnel as two datagram trains (an outer IP packet holds 64 KiB), leave
// as one super-frame again, and the host behind gets half the frames.
//
// The merged frame is the run's first packet, with the payloads of the
// others appended, its lengths and IPv4 header checksum fixed, and GSO set
// (TCPv4 or TCPv6, Size the first segment's payload or the first
// super-frame's Size, a partial checksum:
// the TCP checksum field holds the pseudo-header sum). The other packets
// of the run are freed. Frames that are not candidates keep their place.
// Coalesce returns the number of frames left in pkts[:n]; pkts[n:] is
// cleared. merged is the number of frames freed by merging. It never
// allocates.
func Coalesce(pkts []*pkt.Packet) (n, merged int) { return CoalesceFor(pkts, true) }

// CoalesceFor is Coalesce for a port that may not take UDP segmentation
// (Offloads.TxUSO false): with udp false, UDP datagrams are left alone and
// only TCP segments are merged.
func CoalesceFor(pkts []*pkt.Packet, udp bool) (n, merged int) {
	var (
		head    *pkt.Packet // the run being built (pkts[n-1]), or nil
		hs      seg         // head's headers
		count   int         // frames in the run
		segs    int         // segments in the run
		nextSeq uint32
		open    bool // the run can take another segment
		s       seg
	)
	finish := func() {
		if head != nil && count > 1 {
			finishRun(head, &hs)
		}
		head, count, open = nil, 0, false
	}
	for _, p := range pkts {
		if !parseSeg(p, &s) || (s.udp && !udp) {
			finish()
			pkts[n] = p
			n++
			continue
		}
		if head != nil && open && s.v4 == hs.v4 && s.udp == hs.udp && s.hlen == hs.hlen && s.seq == nextSeq &&
			(s.mss == hs.mss || !s.super && s.payload <= hs.mss) &&
			head.Len()+s.payload-hdr.EthernetLen <= maxCoalesced &&
			s.payload <= head.Tailroom() && head.Len()+s.payload <= pkt.MaxFrame &&
			(!s.v4 || s.id == hs.id+uint16(segs) || (s.id == hs.id && hdr.IPv4(p.Bytes()[hdr.EthernetLen:]).DF())) &&
			sameHeaders(head.Bytes(), p.Bytes(), s.v4, s.l4, s.hlen) &&
			(count > 1 || hs.super || segChecksumOK(head.Bytes(), &hs)) && (s.super || segChecksumOK(p.Bytes(), &s)) {
			b := p.Bytes()
			copy(head.Append(s.payload), b[s.hlen:])
			if s.flags&tcpPSH != 0 {
				hb := head.Bytes()
				hb[hs.l4+13] |= tcpPSH
			}
			count++
			segs += s.segs
			if !s.udp {
				nextSeq += uint32(s.payload)
			}
			open = runOpen(&s, hs.mss)
			p.Free()
			merged++
			continue
		}
		finish()
		pkts[n] = p
		n++
		head, hs, count, segs = p, s, 1, s.segs
		nextSeq = s.seq
		if !s.udp {
			nextSeq += uint32(s.payload)
		}
		open = runOpen(&s, hs.mss)
	}
	finish()
	clear(pkts[n:])
	return n, merged
}

// runOpen reports whether a run whose last frame is s, of segments of mss
// bytes, can take another: s ended on a whole segment, and s had no PSH
// unless it was a super-frame. The exception is MergeTunnelUSO's: a
// super-frame here is half of a sender's, whose datagrams mixed the tail
// of one host super-frame (PSH on its last segment) with the head of the
// next; the merged frame carries PSH.
func runOpen(s *seg, mss int) bool {
	return s.payload%mss == 0 && (s.super || s.flags&tcpPSH == 0)
}

// finishRun turns the head of a merged run into a GSO super-frame.
func finishRun(p *pkt.Packet, s *seg) {
	fixMerged(p.Bytes(), s)
	setGSO(&p.GSO, s, 0)
	p.L3, p.L4 = hdr.EthernetLen, uint16(s.l4)
}

// setGSO describes the merged frame of s, starting base bytes into the
// packet, in g.
func setGSO(g *pkt.GSO, s *seg, base int) {
	*g = pkt.GSO{Size: uint16(s.mss), HdrLen: uint16(base + s.hlen), NeedsCsum: true,
		CsumStart: uint16(base + s.l4), CsumOffset: 16}
	switch {
	case s.udp:
		g.Type, g.CsumOffset = pkt.GSOUDPL4, 6
	case s.v4:
		g.Type = pkt.GSOTCPv4
	default:
		g.Type = pkt.GSOTCPv6
	}
}

// fixMerged sets the lengths, the IPv4 header checksum and the partial
// transport checksum of the merged frame b whose first segment was s.
func fixMerged(b []byte, s *seg) {
	l3 := hdr.EthernetLen
	l4Len := len(b) - s.l4
	proto, csumOff := hdr.IPProtoTCP, 16
	if s.udp {
		proto, csumOff = hdr.IPProtoUDP, 6
		hdr.UDP(b[s.l4:]).SetLength(uint16(l4Len))
	}
	var sum uint32
	if s.v4 {
		ip := hdr.IPv4(b[l3:])
		ip.SetTotalLen(uint16(len(b) - l3))
		ip.UpdateChecksum()
		sum = hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), proto, l4Len)
	} else {
		ip := hdr.IPv6(b[l3:])
		ip.SetPayloadLen(uint16(len(b) - l3 - hdr.IPv6Len))
		sum = hdr.PseudoHeaderSum(ip.Src(), ip.Dst(), proto, l4Len)
	}
	// A partial checksum: the field holds the folded pseudo-header sum,
	// not complemented, for whoever completes it.
	binary.BigEndian.PutUint16(b[s.l4+csumOff:], ^hdr.Fold(sum))
}

// MergeTunnelUSO is Coalesce for the datagrams of a UDP-L4 super-frame p
// that are tunnel packets (VXLAN, Geneve) each carrying one TCP segment of
// one inner flow, as a flowpath VTEP sends them (or the kernel's UDP GRO
// builds them): if every datagram has the same tunLen bytes of tunnel
// header and its inner segment would merge with the first one under
// Coalesce's rules, the payloads are moved together in place, and p becomes
// one tunnel datagram whose inner frame is a TCP super-frame: the outer IP
// and UDP lengths fixed (outer UDP checksum 0: the datagram is consumed
// here), the inner headers as Coalesce leaves them, and p.GSO the inner
// super-frame's (TCPv4 or TCPv6, offsets from the start of p), as a kernel
// VTEP's TSO frame reads. Unlike Coalesce (and the kernel's GRO), a PSH
// inside the run does not end it: the sender's datagrams mix the tail of
// one host super-frame (PSH on its last segment) with the head of the
// next, and all of it is here at once; the merged frame carries PSH, and
// segmenting it again would put PSH on its last segment only.
// udpOff is the outer UDP header's offset, p.L3
// the outer IP header's. It reports false, with p unchanged, otherwise.
// One pass over the datagrams checks them before any byte moves, the inner
// checksums included unless p.GSO.NeedsCsum says the frame was built on
// this host and crossed no wire (the kernel's CHECKSUM_PARTIAL, which
// skb_csum_unnecessary trusts at every layer): then its sender computed
// them and verifying ~45 segments costs more than the merge. It never
// allocates.
func MergeTunnelUSO(p *pkt.Packet, udpOff, tunLen int) bool {
	if p.GSO.Type != pkt.GSOUDPL4 || p.GSO.Size == 0 || tunLen < 0 {
		return false
	}
	b := p.Bytes()
	size := int(p.GSO.Size)
	d0 := udpOff + hdr.UDPLen
	l3 := int(p.L3)
	if l3 == 0 || l3 >= udpOff || d0 > len(b) || tunLen+hdr.EthernetLen+hdr.IPv4MinLen+hdr.TCPMinLen > size {
		return false
	}
	n := (len(b) - d0 + size - 1) / size
	if n < 2 {
		return false
	}
	first := b[d0 : d0+size]
	inner0 := first[tunLen:]
	local := p.GSO.NeedsCsum
	var hs, s seg
	if !parseFrame(inner0, &hs) || hs.udp || hs.payload != len(inner0)-hs.hlen ||
		!(local || segChecksumOK(inner0, &hs)) {
		return false
	}
	next := hs.seq + uint32(hs.payload)
	total := len(inner0)
	for k := 1; k < n; k++ {
		d := b[d0+k*size : min(d0+(k+1)*size, len(b))]
		if len(d) < tunLen || !bytes.Equal(d[:tunLen], first[:tunLen]) {
			return false
		}
		in := d[tunLen:]
		if !parseFrame(in, &s) || s.udp || s.v4 != hs.v4 || s.hlen != hs.hlen || s.seq != next ||
			s.payload > hs.payload ||
			(s.v4 && s.id != hs.id+uint16(k) && !(s.id == hs.id && hdr.IPv4(in[hdr.EthernetLen:]).DF())) ||
			!sameHeaders(inner0, in, s.v4, s.l4, s.hlen) || !(local || segChecksumOK(in, &s)) {
			return false
		}
		next += uint32(s.payload)
		total += s.payload
	}
	if total-hdr.EthernetLen > maxCoalesced {
		return false
	}
	psh := hs.flags&tcpPSH != 0
	t := d0 + size
	for k := 1; k < n; k++ {
		start := d0 + k*size
		psh = psh || b[start+tunLen+hs.l4+13]&tcpPSH != 0
		t += copy(b[t:], b[start+tunLen+hs.hlen:min(start+size, len(b))])
	}
	p.Truncate(t)
	b = p.Bytes()
	inner := b[d0+tunLen:]
	if psh {
		inner[hs.l4+13] |= tcpPSH
	}
	fixMerged(inner, &hs)
	if b[l3]>>4 == 4 {
		ip := hdr.IPv4(b[l3:])
		ip.SetTotalLen(uint16(len(b) - l3))
		ip.UpdateChecksum()
	} else {
		hdr.IPv6(b[l3:]).SetPayloadLen(uint16(len(b) - l3 - hdr.IPv6Len))
	}
	u := hdr.UDP(b[udpOff:])
	u.SetLength(uint16(len(b) - udpOff))
	u.SetChecksum(0)
	setGSO(&p.GSO, &hs, d0+tunLen)
	return true
}
