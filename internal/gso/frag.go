package gso

import (
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// maxIPv4Header is the largest IPv4 header (IHL 15).
const maxIPv4Header = 60

// copiedOptions writes into dst the options of opts that carry the copied
// flag (RFC 791: they go into every fragment), padded with end-of-list to
// a multiple of 4, and returns the length written. It reports false for a
// malformed option list (a length under 2 or past the end), which the
// input path should already have dropped.
func copiedOptions(dst, opts []byte) (int, bool) {
	n := 0
	for i := 0; i < len(opts); {
		t := opts[i]
		if t == hdr.IPv4OptEnd {
			break
		}
		if t == hdr.IPv4OptNOP {
			i++
			continue
		}
		if i+1 >= len(opts) {
			return 0, false
		}
		l := int(opts[i+1])
		if l < 2 || i+l > len(opts) {
			return 0, false
		}
		if t&hdr.IPv4OptCopied != 0 {
			n += copy(dst[n:], opts[i:i+l])
		}
		i += l
	}
	for n%4 != 0 {
		dst[n] = hdr.IPv4OptEnd
		n++
	}
	return n, true
}

// FragmentIPv4 fragments the Ethernet-framed IPv4 packet p (network
// header at p.L3, else after the Ethernet header and VLAN tags) so that no
// fragment's IP total length exceeds mtu (RFC 791). The fragments are taken
// from pool and stored in out[:n]: each carries the L2 header as it was,
// the IP header with the same ID, a payload that is a multiple of 8 bytes
// except in the last, its offset added to the input's own (an input that
// is itself a fragment is fragmented further) and MF set on all but the
// last, which keeps the input's MF. The first fragment has every option;
// the others only those with the copied flag. Header checksums are
// recomputed; the payload is copied as it is (for a datagram whose L4
// checksum is still partial, CompleteChecksum first).
//
// A packet that already fits is copied into one packet. ok is false, with
// n 0 and every packet taken back in the pool, if DF is set (the caller
// sends ICMP fragmentation-needed instead), the packet is malformed, the
// mtu leaves no room for 8 payload bytes after the header, the input's
// offset plus its payload passes 65535, or out or pool is too small. p is neither freed nor changed.
func FragmentIPv4(p *pkt.Packet, mtu int, pool *pkt.Pool, out []*pkt.Packet) (n int, ok bool) {
	b := p.Bytes()
	l3, version, ok := locateL3(p, b)
	if !ok || version != 4 {
		return 0, false
	}
	ip := hdr.IPv4(b[l3:])
	if !ip.IsValid() || ip.DF() {
		return 0, false
	}
	return fragment(p, b, l3, mtu, pool, out)
}

// fragment does FragmentIPv4's work on a validated, DF-clear IPv4 packet.
func fragment(p *pkt.Packet, b []byte, l3, mtu int, pool *pkt.Pool, out []*pkt.Packet) (int, bool) {
	ip := hdr.IPv4(b[l3:])
	hl := ip.HeaderLen()
	tl := int(ip.TotalLen())
	if tl <= mtu {
		if len(out) < 1 {
			return 0, false
		}
		q := pool.Get()
		if q == nil {
			return 0, false
		}
		q.SetFrame(l3 + tl)
		copy(q.Bytes(), b[:l3+tl])
		copyMeta(q, p)
		q.L3 = uint16(l3)
		out[0] = q
		return 1, true
	}

	// Later fragments carry only the copied options.
	var later [maxIPv4Header]byte
	copy(later[:], b[l3:l3+hdr.IPv4MinLen])
	on, ok := copiedOptions(later[hdr.IPv4MinLen:], b[l3+hdr.IPv4MinLen:l3+hl])
	if !ok {
		return 0, false
	}
	hl2 := hdr.IPv4MinLen + on
	later[0] = 0x40 | byte(hl2/4)

	first := (mtu - hl) &^ 7
	rest := (mtu - hl2) &^ 7
	if first < 8 || rest < 8 {
		return 0, false
	}
	payload := b[l3+hl : l3+tl]
	nfrag := 1
	if r := len(payload) - first; r > 0 {
		nfrag += (r + rest - 1) / rest
	}
	if nfrag > len(out) {
		return 0, false
	}
	base := ip.FragOffset()
	lastMF := ip.MF()
	if base+len(payload) > 0xffff {
		return 0, false // past the largest datagram: offsets would not fit
	}
	pos := 0
	for i := 0; i < nfrag; i++ {
		q := pool.Get()
		if q == nil {
			giveBack(pool, out, i)
			return 0, false
		}
		out[i] = q
		h, size := hl, first
		if i > 0 {
			h, size = hl2, rest
		}
		if size > len(payload)-pos {
			size = len(payload) - pos
		}
		q.SetFrame(l3 + h + size)
		f := q.Bytes()
		copy(f, b[:l3])
		if i == 0 {
			copy(f[l3:], b[l3:l3+hl])
		} else {
			copy(f[l3:], later[:hl2])
		}
		copy(f[l3+h:], payload[pos:pos+size])
		copyMeta(q, p)
		q.L3 = uint16(l3) // where it is, also when p.L3 was left for us to find
		if i > 0 {
			q.L4 = 0 // no transport header in a later fragment
		}
		fh := hdr.IPv4(f[l3:])
		fh.SetTotalLen(uint16(h + size))
		fh.SetFragment(false, i < nfrag-1 || lastMF, base+pos)
		fh.UpdateChecksum()
		pos += size
	}
	return nfrag, true
}

// segmentUFO handles GSOUDP: one UDP datagram in IPv4 fragments of Size
// payload bytes each (the virtio/kernel meaning of gso_size for UFO). The
// UDP checksum, if partial, is completed into the first fragment (p is not
// changed).
func segmentUFO(p *pkt.Packet, pool *pkt.Pool, out []*pkt.Packet) (int, bool) {
	b := p.Bytes()
	l3, version, ok := locateL3(p, b)
	if !ok || version != 4 {
		return 0, false
	}
	ip := hdr.IPv4(b[l3:])
	if !ip.IsValid() || ip.DF() || ip.IsFragment() || ip.Protocol() != hdr.IPProtoUDP || p.GSO.Size < 8 {
		return 0, false
	}
	end := l3 + int(ip.TotalLen())
	var csum uint16
	field := -1
	if p.GSO.NeedsCsum {
		start := int(p.GSO.CsumStart)
		field = start + int(p.GSO.CsumOffset)
		if start < l3+ip.HeaderLen() || field+2 > end || p.GSO.CsumOffset&1 != 0 {
			return 0, false
		}
		csum = hdr.Checksum(b[start:end], 0)
		if csum == 0 {
			csum = 0xffff
		}
	}
	n, ok := fragment(p, b, l3, ip.HeaderLen()+int(p.GSO.Size), pool, out)
	if !ok {
		return 0, false
	}
	if field >= 0 {
		f := out[0].Bytes()
		if field+2 > len(f) {
			giveBack(pool, out, n)
			return 0, false
		}
		f[field], f[field+1] = byte(csum>>8), byte(csum)
	}
	return n, true
}
