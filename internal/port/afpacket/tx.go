package afpacket

import (
	"flowpath/internal/pkt"
	"flowpath/internal/sys"
)

// Transmit implements port.TxQueue: one sendmmsg per 64 frames, each
// message [virtio-net header, frame].
func (q *txQueue) Transmit(pkts []*pkt.Packet) int {
	if len(pkts) == 0 {
		return 0
	}
	if !q.slot.Enter() {
		q.dropped.Add(uint64(len(pkts)))
		return 0
	}
	sent, bytes := 0, 0
	for len(pkts) > 0 {
		chunk := pkts[:min(len(pkts), txBatch)]
		pkts = pkts[len(chunk):]
		m := 0
		for _, p := range chunk {
			b := p.Bytes()
			if len(b) < 14 {
				continue
			}
			if q.vnet {
				p.GSO.EncodeVnetHdr(q.hdr[m][:])
				sys.SetIovec(&q.iov[m][0], q.hdr[m][:])
				sys.SetIovec(&q.iov[m][1], b)
				sys.SetMsgIov(&q.msg[m].Hdr, q.iov[m][:2])
			} else {
				if p.GSO.IsGSO() || p.GSO.NeedsCsum {
					continue // nothing could finish it
				}
				sys.SetIovec(&q.iov[m][0], b)
				sys.SetMsgIov(&q.msg[m].Hdr, q.iov[m][:1])
			}
			q.lens[m] = len(b)
			m++
		}
		s, sb := q.send(m)
		sent += s
		bytes += sb
		q.dropped.Add(uint64(len(chunk) - s))
	}
	q.slot.Exit()
	q.packets.Add(uint64(sent))
	q.bytes.Add(uint64(bytes))
	return sent
}

// send hands q.msg[:m] to the kernel and counts what it refused. A full
// device or socket queue is waited out briefly (txRetries × txRetryWait)
// before the rest of the batch is dropped; a frame the kernel rejects
// (too big for the MTU, bad virtio-net header) is dropped alone.
func (q *txQueue) send(m int) (sent, bytes int) {
	tries := 0
	for i := 0; i < m; {
		k, e := sys.Sendmmsg(q.fd, q.msg[i:m], sys.MsgDontwait)
		switch {
		case e == 0:
			for j := i; j < i+k; j++ {
				bytes += q.lens[j]
			}
			sent += k
			i += k
		case e == sys.EINTR:
		case sys.Temporary(e) && tries < txRetries:
			tries++
			sys.Ppoll(nil, txRetryWait)
		case sys.Temporary(e) || e == sys.ENETDOWN || e == sys.ENXIO:
			i = m // the whole rest would fail the same way
		default:
			i++
		}
	}
	return sent, bytes
}
