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
	n, starved := q.receive(pool, pkts)
	if n == 0 && timeout > 0 {
		deadline := time.Now().Add(timeout)
		polled := false
		if q.waiter != nil && !starved {
			if n, starved, polled = q.waiter.Wait(pool, pkts, deadline); !polled {
				sys.SocketError(q.fd) // see RxWaiter.Wait; ppoll below
			}
		}
		for !starved && !polled {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			q.pfd[0].Revents, q.pfd[1].Revents = 0, 0
			sys.Ppoll(q.pfd[:], left)
			if q.p.gate.Closed() {
				break
			}
			if n, starved = q.receive(pool, pkts); n > 0 {
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

// receive takes what is ready, from the ring or with recvmmsg.
func (q *rxQueue) receive(pool *pkt.Pool, pkts []*pkt.Packet) (n int, starved bool) {
	if q.recv {
		return q.recvmmsg(pool, pkts)
	}
	return q.drain(pool, pkts)
}

// recvmmsg receives up to len(pkts) frames straight into packets from
// pool: one syscall, one copy (the kernel's), no waiting for a block.
// starved reports an empty pool (frames may be waiting in the socket).
func (q *rxQueue) recvmmsg(pool *pkt.Pool, pkts []*pkt.Packet) (int, bool) {
	want := min(len(pkts), len(q.rpkt))
	got := pool.GetBatch(q.rpkt[:want])
	if got == 0 {
		return 0, true
	}
	for i := 0; i < got; i++ {
		m := &q.rmsg[i]
		m.Hdr.Flags = 0
		m.Hdr.Control = &q.rctl[i][0]
		m.Hdr.SetControllen(len(q.rctl[i]))
		if q.p.vnet {
			sys.SetIovec(&q.riov[i][0], q.rhdr[i][:])
			sys.SetIovec(&q.riov[i][1], q.rpkt[i].RecvBuf())
			sys.SetMsgIov(&m.Hdr, q.riov[i][:2])
		} else {
			sys.SetIovec(&q.riov[i][0], q.rpkt[i].RecvBuf())
			sys.SetMsgIov(&m.Hdr, q.riov[i][:1])
		}
	}
	k, e := sys.Recvmmsg(q.fd, q.rmsg[:got], sys.MsgDontwait)
	if e != 0 {
		k = 0
	}
	n, bytes, dropped := 0, 0, 0
	for i := 0; i < k; i++ {
		p, m := q.rpkt[i], &q.rmsg[i]
		size := int(m.Len)
		ok := m.Hdr.Flags&sys.MsgTrunc == 0
		if q.p.vnet {
			size -= pkt.VnetHdrLen
			ok = ok && size >= 14 && p.GSO.DecodeVnetHdr(q.rhdr[i][:])
		} else {
			ok = ok && size >= 14
		}
		if !ok || !p.SetFrame(size) {
			dropped++
			p.Free()
			q.rpkt[i] = nil
			continue
		}
		if st, tci, tpid, aux := sys.ParseAuxdata(q.rctl[i][:m.Hdr.Controllen]); aux && st&sys.TpStatusVLANValid != 0 {
			// The kernel took the outer tag off into metadata (VLAN
			// offload); put it back so the frame is what was on the wire.
			if st&sys.TpStatusVLANTPIDValid == 0 {
				tpid = 0x8100
			}
			b := p.Prepend(4)
			if b == nil {
				dropped++
				p.Free()
				q.rpkt[i] = nil
				continue
			}
			f := p.Bytes()
			copy(f[:12], f[4:16])
			binary.BigEndian.PutUint16(f[12:], tpid)
			binary.BigEndian.PutUint16(f[14:], tci)
			if p.GSO.NeedsCsum {
				p.GSO.CsumStart += 4
			}
			if p.GSO.HdrLen != 0 {
				p.GSO.HdrLen += 4
			}
			size += 4
		}
		bytes += size
		pkts[n] = p
		n++
		q.rpkt[i] = nil
	}
	for i := k; i < got; i++ {
		q.rpkt[i].Free()
		q.rpkt[i] = nil
	}
	q.count(n, bytes, dropped)
	return n, false
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
