package afpacket

import (
	"encoding/binary"
	"time"

	"flowpath/internal/pkt"
	"flowpath/internal/sys"
)

var ne = binary.NativeEndian // the ring is in host byte order

// frameHdrMin is the part of a ring frame read before the frame itself:
// tpacket3_hdr and sockaddr_ll.
const frameHdrMin = sys.PktTypeOff + 1

// Receive implements port.RxQueue.
func (q *rxQueue) Receive(pool *pkt.Pool, pkts []*pkt.Packet, timeout time.Duration) int {
	if len(pkts) == 0 || !q.slot.Enter() {
		return 0
	}
	n, starved := q.drain(pool, pkts)
	if n == 0 && timeout > 0 {
		deadline := time.Now().Add(timeout)
		for !starved {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			q.pfd[0].Revents, q.pfd[1].Revents = 0, 0
			sys.Ppoll(q.pfd[:], left)
			if q.p.gate.Closed() {
				break
			}
			if n, starved = q.drain(pool, pkts); n > 0 {
				break
			}
			if q.pfd[0].Revents&sys.POLLERR != 0 {
				// A pending socket error (ENETDOWN when the link went
				// down) keeps poll returning at once; reading it clears
				// it so the next poll sleeps.
				sys.SocketError(q.fd)
			}
		}
		if starved && n == 0 {
			// Frames wait but the pool is empty, and only its owner (the
			// caller, who is here) can refill it: sleep instead of
			// spinning on a ready ring; Close still wakes us.
			if left := time.Until(deadline); left > 0 {
				sys.Ppoll(q.pfd[1:], left)
			}
		}
	}
	q.slot.Exit()
	return n
}

// drain copies ready frames into packets from pool, block by block, and
// returns the blocks it finished to the kernel. starved reports that it
// stopped because the pool was empty.
func (q *rxQueue) drain(pool *pkt.Pool, pkts []*pkt.Packet) (n int, starved bool) {
	bytes, dropped := 0, 0
	for n < len(pkts) {
		blk := q.ring[q.cur*q.bs : (q.cur+1)*q.bs]
		if !q.open {
			if sys.LoadUint32(blk, sys.BlockStatusOff)&sys.TpStatusUser == 0 {
				break
			}
			q.open = true
			q.left = ne.Uint32(blk[sys.BlockNumPktsOff:])
			q.off = ne.Uint32(blk[sys.BlockFirstPktOff:])
		}
		if q.left == 0 {
			sys.StoreUint32(blk, sys.BlockStatusOff, sys.TpStatusKernel)
			q.open = false
			q.cur++
			if q.cur == q.nb {
				q.cur = 0
			}
			continue
		}
		off := int(q.off)
		if off < 0 || off+frameHdrMin > len(blk) {
			// Corrupt offset: give the block back rather than read past it.
			dropped += int(q.left)
			q.left = 0
			continue
		}
		h := blk[off:]
		next := ne.Uint32(h[sys.PktNextOff:])
		if q.left > 1 && next < frameHdrMin {
			// Frames never overlap: a shorter step is a corrupt block,
			// and following it could loop for billions of frames.
			dropped += int(q.left)
			q.left = 0
			continue
		}
		switch q.frame(h, pool, &pkts[n]) {
		case frameOK:
			bytes += pkts[n].Len()
			n++
		case frameDrop:
			dropped++
		case frameSkip:
		case frameNoPacket:
			// Pool empty: leave the frame for the next call.
			q.count(n, bytes, dropped)
			return n, true
		}
		q.left--
		q.off += next
	}
	q.count(n, bytes, dropped)
	return n, false
}

func (q *rxQueue) count(n, bytes, dropped int) {
	if n > 0 {
		q.packets.Add(uint64(n))
		q.bytes.Add(uint64(bytes))
	}
	if dropped > 0 {
		q.dropped.Add(uint64(dropped))
	}
}

type frameResult uint8

const (
	frameOK       frameResult = iota // copied into *out
	frameDrop                        // bad or truncated: counted
	frameSkip                        // not input (host's outgoing frame)
	frameNoPacket                    // pool empty: frame left in place
)

// frame copies the ring frame whose tpacket3_hdr starts h into a packet.
func (q *rxQueue) frame(h []byte, pool *pkt.Pool, out **pkt.Packet) frameResult {
	if h[sys.PktTypeOff] == sys.PacketOutgoing {
		return frameSkip
	}
	snap := int(ne.Uint32(h[sys.PktSnaplenOff:]))
	wire := int(ne.Uint32(h[sys.PktLenOff:]))
	status := ne.Uint32(h[sys.PktStatusOff:])
	mac := int(ne.Uint16(h[sys.PktMacOff:]))
	if snap != wire || snap < 14 || mac < frameHdrMin || mac+snap > len(h) {
		return frameDrop // truncated by the ring, or nonsense
	}
	frame := h[mac : mac+snap]
	var g pkt.GSO
	if q.p.vnet {
		if mac < frameHdrMin+pkt.VnetHdrLen || !g.DecodeVnetHdr(h[mac-pkt.VnetHdrLen:mac]) {
			return frameDrop
		}
	}
	tagged := status&sys.TpStatusVLANValid != 0
	size := snap
	if tagged {
		size += 4
	}
	if size > pkt.MaxFrame {
		return frameDrop
	}
	p := pool.Get()
	if p == nil {
		return frameNoPacket
	}
	buf := p.RecvBuf()
	if tagged {
		// The kernel moved the outer tag into metadata (VLAN offload);
		// put it back so the frame is what was on the wire.
		tpid := uint16(0x8100)
		if status&sys.TpStatusVLANTPIDValid != 0 {
			tpid = ne.Uint16(h[sys.PktVLANTPID:])
		}
		copy(buf[:12], frame[:12])
		binary.BigEndian.PutUint16(buf[12:], tpid)
		binary.BigEndian.PutUint16(buf[14:], uint16(ne.Uint32(h[sys.PktVLANTCIOff:])))
		copy(buf[16:], frame[12:])
		if g.NeedsCsum {
			g.CsumStart += 4
		}
		if g.HdrLen != 0 {
			g.HdrLen += 4
		}
	} else {
		copy(buf, frame)
	}
	p.SetFrame(size)
	p.GSO = g
	*out = p
	return frameOK
}
