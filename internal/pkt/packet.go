package pkt

import "net/netip"

const (
	// BufSize is the size of every packet buffer: headroom plus the largest
	// frame flowpath handles (a 64 KiB GSO super-frame with its L2 header).
	BufSize = 66048
	// DefaultHeadroom is where received frames start. It leaves room for
	// any encapsulation flowpath builds (VXLAN over IPv6 with VLAN is 74 B;
	// an MPLS stack of 30 labels is 120 B).
	DefaultHeadroom = 256
	// MaxFrame is the largest frame that fits after DefaultHeadroom.
	MaxFrame = BufSize - DefaultHeadroom
	// BatchSize is the number of packets a stage handles at once.
	BatchSize = 64
)

// Packet is one frame plus its metadata. The zero value is not usable:
// Packets come from a Pool.
type Packet struct {
	buf  []byte // whole buffer, len == BufSize
	head int    // frame start in buf
	tail int    // frame end in buf

	// InPort is the index of the device the frame was received on (or is
	// treated as received on after decapsulation). 0 means locally generated.
	InPort uint32
	// Table is the routing table chosen for this packet (by VRF or policy
	// rule); 0 means "not chosen yet".
	Table uint32
	// Mark is the packet's firewall mark (fwmark), matched by policy rules.
	Mark uint32
	// Hash is the flow hash (0 = not computed), used for ECMP and UDP
	// source ports of tunnels.
	Hash uint32
	// L3 is the offset of the network header from the frame start, set by
	// ethernet input; L4 the offset of the transport header (0 = unknown).
	L3, L4 uint16
	// EtherType of the payload after any VLAN tags, set by ethernet input.
	EtherType uint16
	// VLAN is the 802.1Q TCI of the outer tag (0 = untagged).
	VLAN uint16

	// Route result, filled by the FIB stage for the output stages.
	OutPort uint32     // output device index
	NextHop netip.Addr // neighbour to resolve (gateway or destination)
	MTU     uint32     // path MTU the packet must fit
	// Encap is the route's encapsulation state the output stage applies
	// (an MPLS label stack push; *tunnel.Encap), nil for none. Typed as
	// any because pkt imports nothing but the standard library; storing
	// a pointer in it does not allocate.
	Encap any

	// GSO describes a super-frame (from or for a virtio-net header).
	GSO GSO
	// Meta is the metadata slot (tunnel info or port mux).
	Meta Metadata

	pool   *Pool
	inPool bool
	// Next links packets in queues that hold them outside a batch (the
	// neighbour pending queue). Whoever holds the packet owns the link.
	Next *Packet
}

// Bytes returns the frame. The slice aliases the packet buffer.
func (p *Packet) Bytes() []byte { return p.buf[p.head:p.tail] }

// Len is the frame length.
func (p *Packet) Len() int { return p.tail - p.head }

// Headroom is the free space in front of the frame.
func (p *Packet) Headroom() int { return p.head }

// Tailroom is the free space after the frame.
func (p *Packet) Tailroom() int { return len(p.buf) - p.tail }

// RecvBuf returns the writable area for a receive at DefaultHeadroom; the
// caller writes n bytes into it and calls SetFrame(n).
func (p *Packet) RecvBuf() []byte { return p.buf[DefaultHeadroom:] }

// SetFrame makes the frame the n bytes at DefaultHeadroom. It reports false
// (and changes nothing) if n does not fit.
func (p *Packet) SetFrame(n int) bool {
	if n < 0 || n > MaxFrame {
		return false
	}
	p.head, p.tail = DefaultHeadroom, DefaultHeadroom+n
	return true
}

// SetBytes copies b into the packet as its frame at DefaultHeadroom.
func (p *Packet) SetBytes(b []byte) bool {
	if !p.SetFrame(len(b)) {
		return false
	}
	copy(p.buf[p.head:], b)
	return true
}

// Prepend grows the frame by n bytes at the front and returns them, or nil
// if the headroom is too small.
func (p *Packet) Prepend(n int) []byte {
	if n < 0 || n > p.head {
		return nil
	}
	p.head -= n
	return p.buf[p.head : p.head+n]
}

// Pull removes n bytes from the front of the frame. It reports false if the
// frame is shorter than n.
func (p *Packet) Pull(n int) bool {
	if n < 0 || n > p.tail-p.head {
		return false
	}
	p.head += n
	return true
}

// Append grows the frame by n bytes at the end and returns them, or nil if
// the tailroom is too small.
func (p *Packet) Append(n int) []byte {
	if n < 0 || n > len(p.buf)-p.tail {
		return nil
	}
	p.tail += n
	return p.buf[p.tail-n : p.tail]
}

// Truncate shortens the frame to n bytes. It reports false if n is out of
// range.
func (p *Packet) Truncate(n int) bool {
	if n < 0 || n > p.tail-p.head {
		return false
	}
	p.tail = p.head + n
	return true
}

// ResetMeta clears every metadata field, keeping the frame.
func (p *Packet) ResetMeta() {
	p.InPort, p.Table, p.Mark, p.Hash = 0, 0, 0, 0
	p.L3, p.L4, p.EtherType, p.VLAN = 0, 0, 0, 0
	p.OutPort, p.NextHop, p.MTU, p.Encap = 0, netip.Addr{}, 0, nil
	p.GSO = GSO{}
	p.Meta.Clear()
	p.Next = nil
}

// CopyFrom makes p a copy of q: frame bytes (at q's headroom offset) and all
// metadata. Used to clone a packet (flooding, ICMP errors keep the original).
func (p *Packet) CopyFrom(q *Packet) {
	pool, inPool := p.pool, p.inPool
	buf := p.buf
	*p = *q
	p.buf, p.pool, p.inPool, p.Next = buf, pool, inPool, nil
	copy(p.buf[p.head:p.tail], q.buf[q.head:q.tail])
}

// Free returns the packet to its pool. It must be called on the goroutine
// that owns the pool.
func (p *Packet) Free() {
	if p.pool != nil {
		p.pool.Put(p)
	}
}

// Pool reports the pool the packet belongs to.
func (p *Packet) Pool() *Pool { return p.pool }
