package dataplane

import (
	"net/netip"
	"sync/atomic"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// controlPoolSize is the control worker's pool: solicitations, and what
// waits with them for an underlay neighbour.
const controlPoolSize = 256

// controlTx sends the frames the control side originates: ARP requests and
// neighbour solicitations for the neighbour manager. It is a worker
// without a receive queue, run only on the manager goroutine, so
// solicitations take the same output path as forwarded packets (through
// tunnel devices too) on transmit queue ControlTxQueue of every port,
// which no forwarding worker uses.
type controlTx struct {
	e       *Engine
	w       *worker
	info    pkt.TunnelInfo // scratch for a tunnel hint
	seenGen atomic.Uint64
}

func newControlTx(e *Engine) *controlTx {
	return &controlTx{e: e, w: newWorker(e, ControlTxQueue, 0, nil, 0, controlPoolSize)}
}

// solicit sends an ARP request (IPv4) or a neighbour solicitation (IPv6)
// for target on device dev: broadcast / solicited-node multicast, or
// unicast to *unicast when re-probing a known neighbour.
func (c *controlTx) solicit(dev uint32, target netip.Addr, unicast *[6]byte) {
	w := c.w
	w.snap = c.e.snap.Load()
	w.now = w.clock()
	if w.pending.Len() > 0 {
		w.resolvePending(w.now)
	}
	defer w.flush()
	d := w.snap.Device(dev)
	if d == nil || !d.Up || (d.Port == nil && d.Tunnel == nil && d.VLAN == nil) {
		return
	}
	p := w.buildSolicit(d, target, unicast)
	if p == nil {
		return
	}
	if d.OverExternalTunnel() {
		// Without the metadata of a packet that waited for this
		// neighbour the device drops the frame (counted), as the
		// kernel's does when the neighbour's queue is empty.
		if c.e.hints.get(dev, target, &c.info) {
			p.Meta.SetTunnel(&c.info)
		}
	}
	w.emit(d, p)
}

// flushPending sends what waits in the control worker's queue for a
// neighbour the manager's last pass resolved, and answers what waited in
// vain. A solicitation through a tunnel device waits there for the
// underlay neighbour of its outer packet; forwarding workers look at their
// queues after every batch, the control worker has no batches, so the
// manager calls this after every pass (SetAfterPoll) instead of leaving
// the frame to the next solicit, a retransmission a second later.
func (c *controlTx) flushPending() {
	w := c.w
	if w.pending.Len() == 0 {
		return
	}
	w.snap = c.e.snap.Load()
	w.now = w.clock()
	w.resolvePending(w.now)
	w.flush()
}

// buildSolicit builds an ARP request or neighbour solicitation for target
// on d in a packet from the worker's pool (nil if the pool is empty).
func (w *worker) buildSolicit(d *Device, target netip.Addr, unicast *[6]byte) *pkt.Packet {
	p := w.pool.Get()
	if p == nil {
		w.c.drops[DropPoolEmpty].Add(1)
		return nil
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
		p.EtherType = hdr.EtherTypeARP
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
		p.EtherType = hdr.EtherTypeIPv6
	}
	p.L3 = hdr.EthernetLen
	p.OutPort = d.Index
	return p
}
