package reasm

import (
	"encoding/binary"
	"time"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// Slots is how many datagrams a Table reassembles at once.
const Slots = 64

// DefaultTimeout is the kernel's net.ipv4.ipfrag_time, DefaultTimeout6
// its net.ipv6.ip6frag_time.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultTimeout6 = 60 * time.Second
)

// maxL2 is the longest link header a fragment arrives with (Ethernet and
// two VLAN tags); maxUnfrag the longest IPv4 header or IPv6 unfragmentable
// part (the IPv6 header and the extension headers before the fragment
// header) kept.
const (
	maxL2     = hdr.EthernetLen + 8
	maxUnfrag = 128
)

// reserve is where payload offset 0 sits in a buffer: room for the link
// header and the kept IP headers in front of it, and 8 bytes more to put
// an IPv6 fragment header back for a timeout's ICMP quote (quote6).
const reserve = maxL2 + maxUnfrag + 8

// A whole datagram fits behind reserve (compile-time check).
var _ [pkt.MaxFrame - reserve - maxPayload]struct{}

// maxPayload bounds the payload of a datagram: an IPv6 payload length
// counts its extension headers too, an IPv4 total length its header.
const maxPayload = 0xffff

// Result says what Add did with a fragment.
type Result uint8

const (
	// Held: the fragment is kept (or was a harmless duplicate and is
	// freed); the datagram is not complete yet.
	Held Result = iota
	// Done: the fragment completed its datagram, which Add returns.
	Done
	// Invalid: not a fragment Add can place (empty, a non-final length
	// not a multiple of 8, beyond the end the final fragment gave).
	Invalid
	// TooBig: the datagram would exceed 65535 bytes.
	TooBig
	// Overlap: the fragment overlaps received data without repeating it;
	// the datagram in progress was discarded.
	Overlap
	// Full: every slot is busy with a datagram in progress.
	Full
	// NoBuffer: the pool has no packet for a new datagram.
	NoBuffer
)

type key struct {
	v6       bool
	src, dst [16]byte
	id       uint32
	proto    uint8 // IPv4 only
}

// bitmap has a bit per 8-byte unit of the largest payload.
type bitmap [maxPayload/8/64 + 2]uint64 // units 0 .. ceil(maxPayload/8), ends included

func (m *bitmap) get(u int) bool { return m[u/64]&(1<<(u%64)) != 0 }
func (m *bitmap) set(u int)      { m[u/64] |= 1 << (u % 64) }

type slot struct {
	used     bool
	k        key
	buf      *pkt.Packet
	hdrStart int    // where the saved L2+IP header starts in RecvBuf, -1 until offset 0 arrived
	l3, keep int    // the saved header's L3 offset and IP header bytes (IPv6: up to the fragment header)
	nhPos    int    // IPv6: offset from the IP header of the next-header byte naming the fragment header
	nextHdr  uint8  // IPv6: the offset-0 fragment header's next header
	total    int    // payload length, -1 until the final fragment arrived
	got      int    // payload bytes received
	deadline int64  // clock value after which Expire discards it
	have     bitmap // 8-byte units received
	starts   bitmap // units where a received fragment started
	ends     bitmap // units where one ended (end rounded up to 8 bytes)
	// metadata of the latest fragment, for the reassembled packet
	inPort, table, mark4 uint32
	vlan, etherType      uint16
}

// Table reassembles datagrams for one worker.
type Table struct {
	timeout, timeout6 int64
	slots             [Slots]slot
	inUse             int
}

// Init sets the IPv4 and IPv6 timeouts (DefaultTimeout and
// DefaultTimeout6 where 0) and empties the table.
func (t *Table) Init(timeout, timeout6 time.Duration) {
	t.Drain()
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if timeout6 <= 0 {
		timeout6 = DefaultTimeout6
	}
	t.timeout, t.timeout6 = int64(timeout), int64(timeout6)
}

// frag is one fragment, parsed.
type frag struct {
	k       key
	l3      int    // IP header offset in the frame
	keep    int    // IP header bytes kept from the offset-0 fragment
	data    []byte // the fragment's payload
	off     int    // its offset in the datagram's payload
	mf      bool
	limit   int // the most payload the datagram may have
	nhPos   int
	nextHdr uint8
}

// InUse reports how many datagrams are in progress.
func (t *Table) InUse() int { return t.inUse }

// Add takes the IPv4 fragment p (its IP header at p.L3, valid and
// checksummed by the caller) at time now (the worker's clock, in ns). On
// Held and Done the table owns p (and has freed it); on Done it returns the
// reassembled datagram, a packet of p's pool with p's metadata at p.L3. On
// any other result p is the caller's, untouched, to drop and count.
func (t *Table) Add(p *pkt.Packet, now int64) (*pkt.Packet, Result) {
	b := p.Bytes()
	l3 := int(p.L3)
	if l3 > maxL2 || len(b) < l3+hdr.IPv4MinLen {
		return nil, Invalid
	}
	ip := hdr.IPv4(b[l3:])
	hl := ip.HeaderLen()
	end := l3 + int(ip.TotalLen())
	if hl < hdr.IPv4MinLen || end > len(b) || end < l3+hl {
		return nil, Invalid
	}
	f := frag{k: key{id: uint32(ip.ID()), proto: ip.Protocol()}, l3: l3, keep: hl, data: b[l3+hl : end],
		off: ip.FragOffset(), mf: ip.MF(), limit: maxPayload - hl}
	copy(f.k.src[:], ip[12:16])
	copy(f.k.dst[:], ip[16:20])
	return t.add(p, &f, now)
}

// AddIPv6 is Add for an IPv6 fragment whose extension header chain c
// (hdr.WalkIPv6 of its IP header, at p.L3) places its fragment header. The
// reassembled datagram keeps the offset-0 fragment's headers before the
// fragment header, drops the fragment header and gives its next header to
// the header that named it (RFC 8200 4.5).
func (t *Table) AddIPv6(p *pkt.Packet, c *hdr.IPv6Chain, now int64) (*pkt.Packet, Result) {
	b := p.Bytes()
	l3 := int(p.L3)
	fragHdr, nhPos := c.FragHdr, c.FragNH
	if l3 > maxL2 || len(b) < l3+hdr.IPv6Len || fragHdr < hdr.IPv6Len || fragHdr > maxUnfrag ||
		nhPos >= fragHdr {
		return nil, Invalid
	}
	ip := hdr.IPv6(b[l3:])
	end := l3 + hdr.IPv6Len + int(ip.PayloadLen())
	if end > len(b) || end < l3+fragHdr+8 || b[l3+nhPos] != hdr.IPProtoFragment {
		return nil, Invalid // a chain that is not this packet's
	}
	fh := b[l3+fragHdr : l3+fragHdr+8]
	fo := binary.BigEndian.Uint16(fh[2:])
	f := frag{k: key{v6: true, id: binary.BigEndian.Uint32(fh[4:])}, l3: l3, keep: fragHdr,
		data: b[l3+fragHdr+8 : end], off: int(fo &^ 7), mf: fo&1 != 0,
		limit: maxPayload - (fragHdr - hdr.IPv6Len), nhPos: nhPos, nextHdr: fh[0]}
	copy(f.k.src[:], ip[8:24])
	copy(f.k.dst[:], ip[24:40])
	return t.add(p, &f, now)
}

// add places fragment f of packet p.
func (t *Table) add(p *pkt.Packet, f *frag, now int64) (*pkt.Packet, Result) {
	data, off, mf, k := f.data, f.off, f.mf, f.k
	if len(data) == 0 || mf && len(data)%8 != 0 {
		return nil, Invalid
	}
	if off+len(data) > f.limit {
		return nil, TooBig
	}
	s := t.find(k)
	if s == nil {
		if s = t.free(now); s == nil {
			return nil, Full
		}
		buf := p.Pool().Get()
		if buf == nil {
			return nil, NoBuffer
		}
		timeout := t.timeout
		if k.v6 {
			timeout = t.timeout6
		}
		*s = slot{used: true, k: k, buf: buf, hdrStart: -1, total: -1, deadline: now + timeout}
		t.inUse++
	}
	last := off + len(data)
	switch {
	case !mf && s.total >= 0 && s.total != last,
		!mf && s.got > 0 && s.maxEnd() > (last+7)/8*8,
		mf && s.total >= 0 && last > s.total:
		// Two different ends, or data past the end: not one datagram.
		t.discard(s)
		return nil, Overlap
	}
	switch s.covered(off, last) {
	case repeat:
		// Exactly a fragment that arrived (a retransmission): nothing
		// new. The kernel drops these too.
		p.Free()
		return nil, Held
	case overlap:
		t.discard(s)
		return nil, Overlap
	}
	rb := s.buf.RecvBuf()
	copy(rb[reserve+off:], data)
	s.record(off, last)
	s.got += len(data)
	if !mf {
		s.total = last
	}
	if off == 0 {
		s.hdrStart, s.l3, s.keep, s.nhPos, s.nextHdr = reserve-f.l3-f.keep, f.l3, f.keep, f.nhPos, f.nextHdr
		copy(rb[s.hdrStart:reserve], p.Bytes()[:f.l3+f.keep])
	}
	s.inPort, s.table, s.mark4, s.vlan, s.etherType = p.InPort, p.Table, p.Mark, p.VLAN, p.EtherType
	p.Free()
	if s.total < 0 || s.got != s.total || s.hdrStart < 0 {
		return nil, Held
	}
	q := s.finish(s.total)
	if !k.v6 {
		rip := hdr.IPv4(q.Bytes()[s.l3:])
		rip.SetTotalLen(uint16(s.keep + s.total))
		binary.BigEndian.PutUint16(rip[6:], binary.BigEndian.Uint16(rip[6:])&0x4000) // keep DF only
		rip.UpdateChecksum()
	}
	s.used = false
	t.inUse--
	return q, Done
}

// Expire discards the datagrams whose time ran out and returns how many.
// For each whose first fragment had arrived, timedOut (if not nil) gets
// that fragment, to answer with ICMP time exceeded: a packet with the
// latest fragment's metadata whose IP packet is the first fragment's
// headers (IPv6: its fragment header too, rebuilt: offset 0, more
// fragments, the datagram's ID) and all the data received from offset 0
// on, which the ICMP quote cuts to what fits. It owns the packet.
func (t *Table) Expire(now int64, timedOut func(p *pkt.Packet)) int {
	n := 0
	if t.inUse == 0 {
		return 0
	}
	for i := range t.slots {
		s := &t.slots[i]
		if !s.used || now <= s.deadline {
			continue
		}
		n++
		if timedOut == nil || s.hdrStart < 0 {
			t.discard(s)
			continue
		}
		prefix := 0
		for u := 0; s.have.get(u); u++ {
			prefix += 8
		}
		if s.total >= 0 && prefix > s.total {
			prefix = s.total
		}
		var q *pkt.Packet
		if s.k.v6 {
			q = s.quote6(prefix)
		} else {
			q = s.finish(prefix)
		}
		t.discard(s)
		timedOut(q)
	}
	return n
}

// finish takes s's buffer as a packet of the saved headers and n bytes of
// payload, with the latest fragment's metadata. An IPv6 packet is made
// whole there: its payload length covers the n bytes and the fragment
// header's next header takes its place in the chain. (An IPv4 header
// stays the first fragment's; Add fixes it for a complete datagram.)
func (s *slot) finish(n int) *pkt.Packet {
	q := s.buf
	s.buf = nil
	q.SetFrame(reserve + n)
	q.Pull(s.hdrStart)
	q.ResetMeta()
	q.InPort, q.Table, q.Mark, q.VLAN, q.EtherType = s.inPort, s.table, s.mark4, s.vlan, s.etherType
	q.L3 = uint16(s.l3)
	if s.k.v6 {
		rip := hdr.IPv6(q.Bytes()[s.l3:])
		rip.SetPayloadLen(uint16(s.keep - hdr.IPv6Len + n))
		rip[s.nhPos] = s.nextHdr
	}
	return q
}

// quote6 takes s's buffer as the IPv6 first fragment as it came, with n
// bytes of payload: the saved headers, a fragment header in its place
// again (ip6_expire_frag_queue quotes the fragment as received), the
// payload length counting it.
func (s *slot) quote6(n int) *pkt.Packet {
	rb := s.buf.RecvBuf()
	start := s.hdrStart - 8 // >= 0: reserve has the room
	copy(rb[start:], rb[s.hdrStart:reserve])
	fh := rb[reserve-8 : reserve]
	fh[0], fh[1] = s.nextHdr, 0
	binary.BigEndian.PutUint16(fh[2:], 1) // offset 0, M: a first fragment that timed out had more
	binary.BigEndian.PutUint32(fh[4:], s.k.id)
	q := s.buf
	s.buf = nil
	q.SetFrame(reserve + n)
	q.Pull(start)
	q.ResetMeta()
	q.InPort, q.Table, q.Mark, q.VLAN, q.EtherType = s.inPort, s.table, s.mark4, s.vlan, s.etherType
	q.L3 = uint16(s.l3)
	hdr.IPv6(q.Bytes()[s.l3:]).SetPayloadLen(uint16(s.keep + 8 - hdr.IPv6Len + n))
	return q
}

// Drain discards every datagram in progress (the worker is stopping).
func (t *Table) Drain() {
	for i := range t.slots {
		if s := &t.slots[i]; s.used {
			t.discard(s)
		}
	}
}

func (t *Table) find(k key) *slot {
	if t.inUse == 0 {
		return nil
	}
	for i := range t.slots {
		if s := &t.slots[i]; s.used && s.k == k {
			return s
		}
	}
	return nil
}

// free returns an unused slot, after discarding expired ones if none is.
func (t *Table) free(now int64) *slot {
	if t.inUse == Slots {
		t.Expire(now, nil)
	}
	for i := range t.slots {
		if s := &t.slots[i]; !s.used {
			return s
		}
	}
	return nil
}

func (t *Table) discard(s *slot) {
	if s.buf != nil {
		s.buf.Free()
		s.buf = nil
	}
	s.used = false
	t.inUse--
}

type coverage uint8

const (
	fresh   coverage = iota // nothing of it arrived
	repeat                  // exactly one fragment that arrived
	overlap                 // anything else that touches received data
)

// covered classifies the fragment [off, end) against what arrived.
func (s *slot) covered(off, end int) coverage {
	first, stop := off/8, (end+7)/8
	n := 0
	for u := first; u < stop; u++ {
		if s.have.get(u) {
			n++
		}
	}
	switch {
	case n == 0:
		return fresh
	case n < stop-first || !s.starts.get(first) || !s.ends.get(stop):
		return overlap
	}
	for u := first + 1; u < stop; u++ {
		if s.starts.get(u) {
			return overlap // it spans two fragments
		}
	}
	return repeat
}

// record marks the fragment [off, end) as received.
func (s *slot) record(off, end int) {
	first, stop := off/8, (end+7)/8
	for u := first; u < stop; u++ {
		s.have.set(u)
	}
	s.starts.set(first)
	s.ends.set(stop)
}

// maxEnd is the end of the furthest data received, rounded to 8 bytes.
func (s *slot) maxEnd() int {
	for w := len(s.have) - 1; w >= 0; w-- {
		if x := s.have[w]; x != 0 {
			hi := 63
			for x&(1<<hi) == 0 {
				hi--
			}
			return (w*64 + hi + 1) * 8
		}
	}
	return 0
}
