package dataplane

import (
	"net/netip"
	"sync/atomic"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// controlTx sends the frames the control side originates: ARP requests and
// neighbour solicitations for the neighbour manager. It runs only on the
// manager goroutine, owns a small pool, and uses transmit queue
// ControlTxQueue on every port, so it never shares a queue with a worker.
type controlTx struct {
	e       *Engine
	pool    *pkt.Pool
	c       *workerCounters
	batch   [1]*pkt.Packet
	seenGen atomic.Uint64
}

func newControlTx(e *Engine) *controlTx {
	return &controlTx{e: e, pool: pkt.NewPool("control", 16), c: new(workerCounters)}
}

// solicit sends an ARP request (IPv4) or a neighbour solicitation (IPv6)
// for target on device dev: broadcast / solicited-node multicast, or
// unicast to *unicast when re-probing a known neighbour.
func (c *controlTx) solicit(dev uint32, target netip.Addr, unicast *[6]byte) {
	s := c.e.snap.Load()
	d := s.Device(dev)
	if d == nil || !d.Up || d.Port == nil || d.tx[ControlTxQueue] == nil {
		return
	}
	p := c.pool.Get()
	if p == nil {
		c.c.drops[DropPoolEmpty].Add(1)
		return
	}
	src := d.PrimaryAddr(target)
	if target.Is4() {
		if !src.IsValid() {
			src = netip.IPv4Unspecified()
		}
		frame := p.Append(hdr.EthernetLen + hdr.ARPLen)
		l2dst := hdr.BroadcastMAC
		if unicast != nil {
			l2dst = *unicast
		}
		hdr.PutEthernet(frame, l2dst, d.MAC, hdr.EtherTypeARP)
		hdr.PutARP(frame[hdr.EthernetLen:], hdr.ARPRequest, d.MAC, src, hdr.MAC{}, target)
	} else {
		if !src.IsValid() {
			src = netip.IPv6Unspecified()
		}
		dst := hdr.SolicitedNodeMulticast(target)
		l2dst := hdr.IPv6MulticastMAC(dst)
		if unicast != nil {
			dst, l2dst = target, *unicast
		}
		withOpt := !src.IsUnspecified()
		icLen := 24
		if withOpt {
			icLen += 8
		}
		frame := p.Append(hdr.EthernetLen + hdr.IPv6Len + icLen)
		hdr.PutEthernet(frame, l2dst, d.MAC, hdr.EtherTypeIPv6)
		hdr.PutIPv6(frame[hdr.EthernetLen:], &hdr.IPv6Fields{PayloadLen: uint16(icLen),
			NextHeader: hdr.IPProtoICMPv6, HopLimit: 255, Src: src, Dst: dst})
		ic := frame[hdr.EthernetLen+hdr.IPv6Len:]
		hdr.PutNDPNeighborSolicit(ic, target, d.MAC, withOpt)
		hdr.ICMPv6(ic).SetChecksum(0)
		hdr.ICMPv6(ic).SetChecksum(hdr.TransportChecksum(src, dst, hdr.IPProtoICMPv6, ic))
	}
	c.batch[0] = p
	dc := &c.c.dev[dev]
	if d.tx[ControlTxQueue].Transmit(c.batch[:]) == 1 {
		dc.txPackets.Add(1)
		dc.txBytes.Add(uint64(p.Len()))
	} else {
		dc.txDropped.Add(1)
		dc.drops[DropTxFailed].Add(1)
	}
	c.batch[0] = nil
	p.Free()
}
