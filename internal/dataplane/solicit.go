package dataplane

import (
	"net/netip"
	"sync/atomic"

	"flowpath/internal/hdr"
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
	if d == nil || !d.Up || (d.Port == nil && d.Tunnel == nil) {
		return
	}
	p := w.pool.Get()
	if p == nil {
		w.c.drops[DropPoolEmpty].Add(1)
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
	p.OutPort = dev
	w.emit(d, p)
}
