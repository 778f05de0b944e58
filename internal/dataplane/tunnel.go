package dataplane

import (
	"encoding/binary"
	"net/netip"

	"flowpath/internal/fdb"
	"flowpath/internal/fib"
	"flowpath/internal/gso"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/tunnel"
)

// maxTunnelDepth bounds tunnel nesting on one packet (a tunnel whose outer
// route leads into another tunnel): deeper packets are dropped as loops.
const maxTunnelDepth = 4

// Tunnel receive and transmit, for VXLAN and Geneve devices:
//
//	receive:  [outer eth][outer IP][UDP dport P][VXLAN|Geneve][inner eth ...]
//	          port P → VNI → device (or the port's external device)
//	          strip to the inner frame, RX metadata (external), learning
//	          (classic VXLAN), then ethernet input as if received there
//
//	transmit: inner frame on the tunnel device → VNI and endpoint from TX
//	          metadata (external) or the FDB (classic) → prepend outer
//	          headers → route the outer packet in the FIB → underlay output

// udpTunnelInput handles a UDP datagram to a local address whose
// destination port belongs to a tunnel. ipOff is the outer L3 offset,
// udpOff the UDP header's offset, both from the frame start. It reports
// false if the port has no tunnel (the caller carries on).
func (w *worker) udpTunnelInput(in *Device, p *pkt.Packet, udpOff int) bool {
	s := w.snap
	b := p.Bytes()
	udp := hdr.UDP(b[udpOff:])
	if len(udp) < hdr.UDPLen {
		return false
	}
	u := s.tunnels[udp.DstPort()]
	if u == nil {
		return false
	}
	if p.GSO.Type == pkt.GSOUDPL4 && p.GSO.NeedsCsum && int(p.GSO.CsumStart) == udpOff {
		// UDP segmentation of the tunnel datagrams themselves.
		w.udpTunnelSplit(in, p, udpOff, u.kind)
		return true
	}
	payload := b[udpOff+hdr.UDPLen:]
	var (
		dev    *Device
		vni    uint32
		gbp    uint32
		hasGBP bool
		opts   []byte
		hlen   int
		flags  = pkt.TunnelFlagKey // RX metadata flags
	)
	switch u.kind {
	case TunnelVXLAN:
		if len(payload) < tunnel.VXLANHeaderLen+hdr.EthernetLen || payload[0]&0x08 == 0 {
			w.dropIn(in.Index, p, DropTunnelHeader) // no I flag: checked before any lookup
			return true
		}
		vni = uint32(payload[4])<<16 | uint32(payload[5])<<8 | uint32(payload[6])
		dev = u.lookup(vni)
		if dev == nil {
			w.dropIn(in.Index, p, DropTunnelUnknownVNI) // silently: no ICMP
			return true
		}
		var ok bool
		vni, gbp, hasGBP, ok = tunnel.ParseVXLAN(payload, dev.Tunnel.GBP)
		if !ok {
			w.dropIn(in.Index, p, DropTunnelHeader)
			return true
		}
		hlen = tunnel.VXLANHeaderLen
	case TunnelGeneve:
		var proto uint16
		var ok bool
		vni, opts, proto, hlen, ok = tunnel.ParseGeneve(payload)
		if !ok || proto != 0x6558 || len(payload) < hlen+hdr.EthernetLen {
			w.dropIn(in.Index, p, DropTunnelHeader)
			return true
		}
		dev = u.lookup(vni)
		if dev == nil {
			w.dropIn(in.Index, p, DropTunnelUnknownVNI)
			return true
		}
		// O and C bits go into the metadata; a device without metadata
		// cannot honour critical options and drops such packets.
		flags = tunnel.GeneveRXFlags(payload)
		if !dev.Tunnel.External && flags&pkt.TunnelCritOpt != 0 {
			w.dropIn(in.Index, p, DropTunnelBadOptions)
			return true
		}
	default:
		return false
	}
	t := dev.Tunnel
	outerL3 := b[p.L3:udpOff]
	var info pkt.TunnelInfo
	if t.External {
		info = tunnel.RXInfo(outerL3, udp, uint64(vni), flags)
		switch {
		case hasGBP:
			var o [4]byte
			binary.BigEndian.PutUint32(o[:], gbp)
			info.SetOptions(o[:], pkt.TunnelVXLANOpt)
		case len(opts) > 0:
			if !info.SetOptions(opts, pkt.TunnelGeneveOpt) {
				w.dropIn(in.Index, p, DropTunnelBadOptions)
				return true
			}
		}
	}
	var outerSrc netip.Addr
	var outerTOS uint8
	if p.EtherType == hdr.EtherTypeIPv4 {
		ip := hdr.IPv4(outerL3)
		outerSrc, outerTOS = ip.Src(), ip.TOS()
	} else {
		ip := hdr.IPv6(outerL3)
		outerSrc, outerTOS = ip.Src(), ip.TrafficClass()
	}
	// Strip everything up to the inner Ethernet header.
	outerLen := udpOff + hdr.UDPLen + hlen
	if !p.Pull(outerLen) {
		w.dropIn(in.Index, p, DropTunnelHeader)
		return true
	}
	if !decapOffload(&p.GSO, outerLen) {
		w.dropIn(in.Index, p, DropGSOFailed)
		return true
	}
	if !dev.Up {
		w.dropIn(dev.Index, p, DropTunnelDown)
		return true
	}
	inner := p.Bytes()
	innerType := binary.BigEndian.Uint16(inner[12:])
	if innerType == hdr.EtherTypeIPv4 || innerType == hdr.EtherTypeIPv6 {
		if tunnel.ECNDecap(outerTOS, inner[hdr.EthernetLen:], innerType) {
			w.dropIn(dev.Index, p, DropTunnelECN)
			return true
		}
	}
	src := hdr.Ethernet(inner).Src()
	if src == dev.MAC {
		w.dropIn(dev.Index, p, DropTunnelOwnMAC)
		return true
	}
	if t.FDB != nil && t.Learning && !src.IsMulticast() {
		// The kernel learns the remote address only: replies go to the
		// device's port, not the sender's (ephemeral) source port.
		if t.FDB.Learn(w.id, src, 0, fdb.Remote{IP: outerSrc, Ifindex: in.Index}) {
			w.dropIn(dev.Index, p, DropFDBStatic)
			return true
		}
	}
	// The frame now enters as if received on the tunnel device.
	p.Meta.Clear()
	if t.External {
		p.Meta.SetTunnel(&info)
	}
	p.InPort = dev.Index
	p.L3, p.L4 = 0, 0
	dc := &w.c.dev[dev.Index]
	dc.rxPackets.Add(1)
	dc.rxBytes.Add(uint64(p.Len()))
	if w.depth >= maxTunnelDepth {
		w.dropIn(dev.Index, p, DropTunnelLoop)
		return true
	}
	w.depth++
	w.ethernetInput(dev, p)
	w.depth--
	return true
}

// decapOffload carries a received frame's offload state over to the inner
// frame once the n bytes of outer headers in front of it are gone. A
// kernel VTEP leaves the inner TCP or UDP checksum partial (the outer UDP
// checksum it completes itself), and sends a TCP flow as super-frames that
// AF_PACKET reports as plain TCP GSO with the checksum start on the inner
// TCP header: both describe the inner packet, so their offsets move with
// its bytes and the state stays. A partial checksum in the outer headers
// goes with them. A super-frame whose checksum is not in the inner frame
// is not a segmentation of the inner packet (UDP segmentation of the
// tunnel datagrams themselves, say): it cannot be decapsulated as one
// frame, and decapOffload reports false.
func decapOffload(g *pkt.GSO, n int) bool {
	if !g.NeedsCsum || int(g.CsumStart) < n+hdr.EthernetLen {
		if g.IsGSO() {
			return false
		}
		*g = pkt.GSO{}
		return true
	}
	g.CsumStart -= uint16(n)
	if int(g.HdrLen) > n {
		g.HdrLen -= uint16(n)
	} else {
		g.HdrLen = 0
	}
	g.DataValid = false // it spoke of the outer checksum
	return true
}

// udpTunnelSplit receives a UDP GSO super-frame for a tunnel port (a
// flowpath peer merged tunnel datagrams of one flow into it, see
// gso.Coalesce, or the kernel's UDP GRO did). When the datagrams carry the
// consecutive TCP segments of one inner flow, they are merged in place into
// one datagram carrying the inner super-frame (gso.MergeTunnelUSO: one
// decapsulation, and the host gets the super-frame); otherwise the frame is
// cut into its datagrams, as the kernel does for a UDP tunnel socket, and
// each is received on its own.
func (w *worker) udpTunnelSplit(in *Device, p *pkt.Packet, udpOff int, kind TunnelKind) {
	if w.splitting {
		w.dropIn(in.Index, p, DropGSOFailed)
		return
	}
	tunLen := -1
	b := p.Bytes()
	switch d := udpOff + hdr.UDPLen; {
	case kind == TunnelVXLAN:
		tunLen = tunnel.VXLANHeaderLen
	case kind == TunnelGeneve && d < len(b):
		tunLen = 8 + int(b[d]&0x3f)*4
	}
	if size := int(p.GSO.Size); w.e.cfg.TxCoalesce && size > 0 && gso.MergeTunnelUSO(p, udpOff, tunLen) {
		w.c.coalesced.Add(uint64((len(b) - udpOff - hdr.UDPLen - 1) / size)) // datagrams merged into the first
		w.udpTunnelInput(in, p, udpOff)
		return
	}
	n, ok := gso.SplitUDP(p, w.pool, w.udpSegs[:])
	if !ok {
		w.dropIn(in.Index, p, DropGSOFailed)
		return
	}
	p.Free()
	w.splitting = true
	for i := 0; i < n; i++ {
		q := w.udpSegs[i]
		w.udpSegs[i] = nil
		w.udpTunnelInput(in, q, udpOff)
	}
	w.splitting = false
}

// lookup finds the device for a VNI on this port: a classic device of that
// VNI first, else the port's external device.
func (u *udpTunnels) lookup(vni uint32) *Device {
	if d := u.byVNI[vni]; d != nil {
		return d
	}
	return u.external
}

// tunnelXmit encapsulates a frame sent on tunnel device dev. Flow-based
// devices take VNI and endpoint from the packet's TX metadata (set by the
// packet's source, or by the route's `encap ip`) and drop frames without
// it; classic VXLAN looks the destination MAC up in the FDB, falls back to
// the all-zero entry, and floods a copy to every remote of the entry.
func (w *worker) tunnelXmit(dev *Device, p *pkt.Packet) {
	t := dev.Tunnel
	dc := &w.c.dev[dev.Index]
	info := p.Meta.TunnelInfo()
	if info != nil && !info.IsTX() {
		info = nil
	}
	if !t.External && t.Kind == TunnelGeneve {
		// Classic Geneve: the device's one remote and VNI, whatever
		// metadata the packet carries (geneve_xmit uses cfg.info unless
		// collect_md).
		dc.txPackets.Add(1)
		dc.txBytes.Add(uint64(p.Len()))
		o := tunnel.Outer{Dst: t.Remote, Src: t.Local, TTL: t.TTL, TOS: t.TOS, DstPort: t.DstPort,
			Csum: t.UDPCsum || t.Remote.Is6(), FlowLabel: t.Label}
		w.tunnelSend(dev, p, &o, t.VNI, 0, false, nil, 0, false)
		return
	}
	if t.External || t.FDB == nil {
		if info == nil {
			// Counted by reason only: the kernel does not count it as
			// tx_dropped.
			w.c.drops[DropTunnelNoMetadata].Add(1)
			dc.drops[DropTunnelNoMetadata].Add(1)
			p.Free()
			return
		}
		dc.txPackets.Add(1)
		dc.txBytes.Add(uint64(p.Len()))
		var remote netip.Addr
		if info.IsIPv6() {
			remote = netip.AddrFrom16(info.Key.Dst)
		} else {
			remote = netip.AddrFrom4([4]byte(info.Key.Dst[:4]))
		}
		var local netip.Addr
		if info.IsIPv6() {
			if a := netip.AddrFrom16(info.Key.Src); !a.IsUnspecified() {
				local = a
			}
		} else if a := netip.AddrFrom4([4]byte(info.Key.Src[:4])); !a.IsUnspecified() {
			local = a
		}
		port := info.Key.TpDst
		if port == 0 {
			port = t.DstPort
		}
		var gbp uint32
		withGBP := false
		switch {
		case t.Kind == TunnelVXLAN && info.Key.Flags&pkt.TunnelVXLANOpt != 0:
			if info.OptLen < 4 {
				w.dropOut(dev.Index, p, DropTunnelBadOptions)
				return
			}
			if t.GBP {
				gbp, withGBP = binary.BigEndian.Uint32(info.Opts[:4]), true
			}
		}
		var opts []byte
		if t.Kind == TunnelGeneve && info.Key.Flags&pkt.TunnelGeneveOpt != 0 {
			opts = info.Options()
		}
		o := tunnel.Outer{Dst: remote, Src: local, TTL: info.Key.TTL, TOS: info.Key.TOS,
			DF: info.Key.Flags&pkt.TunnelDontFrag != 0, FlowLabel: info.Key.Label,
			DstPort: port, Csum: info.Key.Flags&pkt.TunnelCsum != 0}
		w.tunnelSend(dev, p, &o, uint32(info.Key.ID)&0xffffff, gbp, withGBP, opts, info.Key.Flags, true)
		return
	}
	// Classic VXLAN: the FDB decides.
	dst := hdr.Ethernet(p.Bytes()).Dst()
	remotes, ok := t.FDB.Lookup(dst, 0)
	if !ok {
		remotes, ok = t.FDB.Lookup(hdr.MAC{}, 0)
	}
	if !ok || len(remotes) == 0 {
		w.dropOut(dev.Index, p, DropFDBMiss)
		return
	}
	dc.txPackets.Add(1)
	dc.txBytes.Add(uint64(p.Len()))
	for i := range remotes {
		r := &remotes[i]
		q := p
		if i < len(remotes)-1 {
			if q = w.pool.Get(); q == nil {
				w.dropOut(dev.Index, p, DropPoolEmpty)
				return
			}
			q.CopyFrom(p)
		}
		vni := t.VNI
		if r.HasVNI {
			vni = r.VNI
		}
		port := r.Port
		if port == 0 {
			port = t.DstPort
		}
		// IPv4 checksums only with udpcsum; IPv6 always (RFC 8200; the
		// kernel's udp6zerocsumtx, not implemented, would turn it off).
		o := tunnel.Outer{Dst: r.IP, Src: t.Local, TTL: t.TTL, TOS: t.TOS, DstPort: port, Csum: t.UDPCsum || r.IP.Is6(),
			FlowLabel: t.Label}
		if t.TTL == 0 && r.IP.IsMulticast() {
			o.TTL = 1
		}
		w.tunnelSend(dev, q, &o, vni, 0, false, nil, 0, false)
	}
}

// tunnelSend prepends the outer headers to the inner frame p and routes
// the result. o has the endpoint, port and per-packet settings; the
// source port, TTL/TOS defaults and source address are filled here.
//
// tflags are the TX metadata's flags when fromMeta: Geneve then takes its
// O and C bits from them, as geneve_build_skb does.
func (w *worker) tunnelSend(dev *Device, p *pkt.Packet, o *tunnel.Outer, vni, gbp uint32, withGBP bool, opts []byte,
	tflags uint16, fromMeta bool) {
	t := dev.Tunnel
	s := w.snap
	if !o.Dst.IsValid() || o.Dst.IsUnspecified() {
		w.dropOut(dev.Index, p, DropFDBMiss)
		return
	}
	var orig tunnel.Outer // for cutting a super-frame up first (tunnelSendGSO)
	if p.GSO.IsGSO() {
		orig = *o
	}
	inner := p.Bytes()
	innerType := binary.BigEndian.Uint16(inner[12:])
	var innerL3 []byte
	if len(inner) > hdr.EthernetLen {
		innerL3 = inner[hdr.EthernetLen:]
	}
	hash := tunnel.InnerFlowHash(inner)
	o.SrcPort = tunnel.SourcePort(hash, t.SrcMin, t.SrcMax)
	// TOS: 1 means inherit the inner DSCP; the ECN bits follow the inner
	// packet (ip_tunnel_ecn_encap).
	tos := o.TOS
	if tos == 1 {
		tos = innerTOS(innerL3, innerType) &^ 0x3
	}
	o.TOS = tunnel.ECNEncap(tos, innerL3, innerType)
	if t.TTLInh {
		o.TTL = innerTTL(innerL3, innerType)
	}
	// The outer route: rules and tables as for any local packet.
	fl := fib.Flow{Dst: o.Dst, Src: o.Src, Proto: hdr.IPProtoUDP, SrcPort: o.SrcPort, DstPort: o.DstPort, Mark: p.Mark}
	var res fib.Result
	if !s.FIB.LookupCached(w.routes, &fl, fib.FlowHash(&fl, s.HashL4), &res) {
		w.dropOut(dev.Index, p, DropTunnelNoRoute)
		return
	}
	switch res.Type {
	case fib.RouteUnicast:
	case fib.RouteLocal:
		if !t.External && t.Bypass {
			w.tunnelBypass(dev, p, o.DstPort, vni)
			return
		}
		// nolocalbypass (or flow-based): encapsulate and deliver to
		// ourselves, below.
	default:
		w.dropOut(dev.Index, p, DropTunnelNoRoute)
		return
	}
	local := res.Type == fib.RouteLocal
	out := s.Device(res.Nexthop.Dev)
	if out == nil || (out == dev && !local) {
		w.dropOut(dev.Index, p, DropTunnelLoop) // the kernel's ELOOP: collisions
		return
	}
	if !o.Src.IsValid() {
		o.Src = res.Route.PrefSrc
		if !o.Src.IsValid() {
			o.Src = out.PrimaryAddr(o.Dst)
		}
		if !o.Src.IsValid() {
			w.dropOut(dev.Index, p, DropTunnelNoRoute)
			return
		}
	}
	if o.TTL == 0 {
		o.TTL = 64
	}
	w.ipID++
	o.ID = w.ipID
	var th [8 + 260]byte
	var tunHdr []byte
	switch t.Kind {
	case TunnelVXLAN:
		tunnel.PutVXLAN(th[:tunnel.VXLANHeaderLen], vni, gbp, withGBP)
		tunHdr = th[:tunnel.VXLANHeaderLen]
	case TunnelGeneve:
		n := tunnel.PutGeneve(th[:], vni, 0x6558, opts)
		if fromMeta {
			tunnel.SetGeneveFlags(th[:n], tflags&pkt.TunnelOAM != 0, tflags&pkt.TunnelCritOpt != 0)
		}
		tunHdr = th[:n]
	}
	if p.GSO.IsGSO() {
		if !local && w.tunnelSendTunnelGSO(out, p, o, tunHdr, &res) {
			return
		}
		if !local && w.tunnelSendUSO(dev, out, p, o, tunHdr, &res) {
			return
		}
		// Encapsulate segment by segment.
		w.tunnelSendSegments(dev, p, &orig, vni, gbp, withGBP, opts, tflags, fromMeta)
		return
	}
	if p.GSO.NeedsCsum && !gso.CompleteChecksum(p) {
		w.dropOut(dev.Index, p, DropTunnelEncap)
		return
	}
	if !tunnel.PushUDPTunnel(p, o, tunHdr) {
		w.dropOut(dev.Index, p, DropTunnelEncap)
		return
	}
	p.Meta.Clear()
	p.InPort = 0
	p.GSO = pkt.GSO{}
	if local {
		w.tunnelLoopback(dev, out, p)
		return
	}
	var fragMTU uint32
	if mtu := pathMTU(out, &res); uint32(p.Len()-int(p.L3)) > mtu {
		if o.DF || o.Dst.Is6() {
			w.dropOut(out.Index, p, DropFragNeeded)
			return
		}
		fragMTU = mtu
	}
	if w.depth >= maxTunnelDepth {
		w.dropOut(dev.Index, p, DropTunnelLoop)
		return
	}
	w.depth++
	w.output(out, p, nexthopOr(res.Nexthop.Gateway, o.Dst), fragMTU)
	w.depth--
}

// tunnelSendTunnelGSO encapsulates the TCP super-frame p once, as one
// tunnel datagram around the whole of it, for an underlay device out whose
// port takes UDP-tunnel GSO: the kernel then cuts it into whole tunnel
// datagrams (or a NIC does), as it does its own VXLAN's super-frames. The
// outer UDP checksum, when the tunnel wants one, is left partial (the
// pseudo-header sum) for whoever cuts it, and the outer IPv4 IDs of the
// datagrams follow o.ID. It reports false, with p untouched, when the
// port does not take it, the datagrams would exceed the path MTU or the
// whole would not fit one IP packet: tunnelSendUSO or the segment-by-
// segment path takes over.
func (w *worker) tunnelSendTunnelGSO(out *Device, p *pkt.Packet, o *tunnel.Outer, tunHdr []byte, res *fib.Result) bool {
	g := p.GSO
	if !out.TxUDPTunnelGSO || w.depth >= maxTunnelDepth || !g.NeedsCsum || g.Size == 0 ||
		(g.Type != pkt.GSOTCPv4 && g.Type != pkt.GSOTCPv6) {
		return false
	}
	ipLen := hdr.IPv6Len
	if o.Dst.Is4() {
		ipLen = hdr.IPv4MinLen
	}
	outer := hdr.EthernetLen + ipLen + hdr.UDPLen + len(tunHdr)
	// One datagram: the outer headers, the inner headers and one MSS.
	if outer-hdr.EthernetLen+int(g.HdrLen)+int(g.Size) > int(pathMTU(out, res)) {
		return false
	}
	segs := (p.Len() - int(g.HdrLen) + int(g.Size) - 1) / int(g.Size)
	csum := o.Csum
	o.Csum = false // a checksum over the whole would be no datagram's
	ok := tunnel.PushUDPTunnel(p, o, tunHdr)
	o.Csum = csum
	if !ok {
		return false
	}
	if csum {
		f := p.Bytes()
		u := hdr.UDP(f[p.L4:])
		sum := hdr.PseudoHeaderSum(o.Src, o.Dst, hdr.IPProtoUDP, len(f)-int(p.L4))
		u.SetChecksum(^hdr.Fold(sum)) // partial: the folded sum, not complemented
	}
	w.ipID += uint16(segs - 1)
	p.GSO.CsumStart += uint16(outer)
	p.GSO.HdrLen += uint16(outer)
	p.Meta.Clear()
	p.InPort, p.Encap = 0, nil
	w.depth++
	w.output(out, p, nexthopOr(res.Nexthop.Gateway, o.Dst), 0)
	w.depth--
	return true
}

// tunnelSendUSO encapsulates the TCP super-frame p in one pass into UDP
// GSO (USO) frames of tunnel datagrams for an underlay device out that
// takes GSO (gso.EncapUSO): each datagram is what encapsulating one of p's
// segments would give, and the kernel (or the peer VTEP, see
// gso.MergeTunnelUSO) gets ~40 of them at a time. o is the complete outer
// header (tunnelSend filled it). It reports false, with p untouched, when
// the path does not allow it (no GSO on out, datagrams over the path MTU,
// merging turned off, not TCP): the caller then encapsulates segment by
// segment.
func (w *worker) tunnelSendUSO(dev, out *Device, p *pkt.Packet, o *tunnel.Outer, tunHdr []byte, res *fib.Result) bool {
	// UDP segmentation fills in every datagram's checksum, also for a
	// tunnel that sends none (noudpcsum, or encap without csum, over
	// IPv4): RFC 7348 allows a correct one, and going segment by segment
	// instead costs about 6x the overlay's TCP throughput.
	if !out.TxUSO || !w.e.cfg.TxCoalesce || w.depth >= maxTunnelDepth ||
		(p.GSO.Type != pkt.GSOTCPv4 && p.GSO.Type != pkt.GSOTCPv6) {
		return false
	}
	// The outer headers of one datagram, built by the same code as for a
	// single packet, on an empty frame.
	tmpl := w.pool.Get()
	if tmpl == nil {
		return false
	}
	tmpl.SetFrame(0)
	if !tunnel.PushUDPTunnel(tmpl, o, nil) {
		tmpl.Free()
		return false
	}
	n, dg, ok := gso.EncapUSO(p, tmpl.Bytes(), tunHdr, int(pathMTU(out, res)), w.pool, w.usoOut[:])
	tmpl.Free()
	if !ok {
		return false
	}
	w.ipID += uint16(dg - 1) // the datagrams' outer IDs follow o.ID
	p.Free()
	nh := nexthopOr(res.Nexthop.Gateway, o.Dst)
	w.depth++
	for i := 0; i < n; i++ {
		q := w.usoOut[i]
		w.usoOut[i] = nil
		q.Meta.Clear()
		q.InPort, q.Encap = 0, nil
		w.output(out, q, nh, 0)
	}
	w.depth--
	return true
}

// tunnelSendSegments cuts the super-frame p into its segments and
// encapsulates each (o is the outer header as tunnelSend got it).
func (w *worker) tunnelSendSegments(dev *Device, p *pkt.Packet, o *tunnel.Outer, vni, gbp uint32, withGBP bool,
	opts []byte, tflags uint16, fromMeta bool) {
	if w.tunSegsBusy {
		w.dropOut(dev.Index, p, DropGSOFailed)
		return
	}
	n, ok := gso.Segment(p, w.pool, w.tunSegs[:])
	if !ok {
		w.dropOut(dev.Index, p, DropGSOFailed)
		return
	}
	p.Free()
	w.tunSegsBusy = true
	for i := 0; i < n; i++ {
		q := w.tunSegs[i]
		w.tunSegs[i] = nil
		oc := *o
		w.tunnelSend(dev, q, &oc, vni, gbp, withGBP, opts, tflags, fromMeta)
	}
	w.tunSegsBusy = false
}

// tunnelBypass delivers a frame whose outer destination is local straight
// to the local tunnel device with that VNI and port, without encapsulation
// (the kernel's localbypass); without one the frame is dropped.
func (w *worker) tunnelBypass(dev *Device, p *pkt.Packet, port uint16, vni uint32) {
	u := w.snap.tunnels[port]
	var dst *Device
	if u != nil {
		dst = u.byVNI[vni]
	}
	if dst == nil || !dst.Up || w.depth >= maxTunnelDepth {
		w.dropOut(dev.Index, p, DropTunnelNoRoute)
		return
	}
	// The frame is not encapsulated: its offload state (a super-frame, a
	// partial checksum) still describes it and goes with it.
	p.Meta.Clear()
	p.InPort = dst.Index
	dc := &w.c.dev[dst.Index]
	dc.rxPackets.Add(1)
	dc.rxBytes.Add(uint64(p.Len()))
	w.depth++
	w.ethernetInput(dst, p)
	w.depth--
}

// tunnelLoopback delivers an encapsulated packet whose outer destination
// is one of our addresses back into IP input, as the kernel's local
// delivery of a packet sent to itself does: it then meets the tunnel
// receive path like any other (learning included).
func (w *worker) tunnelLoopback(dev, owner *Device, p *pkt.Packet) {
	if w.depth >= maxTunnelDepth {
		w.dropOut(dev.Index, p, DropTunnelLoop)
		return
	}
	eth := hdr.Ethernet(p.Bytes())
	eth.SetDst(owner.MAC)
	eth.SetSrc(owner.MAC)
	p.InPort = owner.Index
	w.depth++
	// Our own packet, delivered to ourselves: the kernel hands it over
	// through lo with its route attached, so its source (ours) is not
	// checked again. ip4Input takes the flag on entry, so packets this
	// one turns into are checked.
	w.looped = p.EtherType == hdr.EtherTypeIPv4
	w.ipInput(owner, p, p.EtherType)
	w.looped = false
	w.depth--
}

func innerTOS(l3 []byte, et uint16) uint8 {
	switch et {
	case hdr.EtherTypeIPv4:
		if len(l3) >= hdr.IPv4MinLen {
			return hdr.IPv4(l3).TOS()
		}
	case hdr.EtherTypeIPv6:
		if len(l3) >= hdr.IPv6Len {
			return hdr.IPv6(l3).TrafficClass()
		}
	}
	return 0
}

func innerTTL(l3 []byte, et uint16) uint8 {
	switch et {
	case hdr.EtherTypeIPv4:
		if len(l3) >= hdr.IPv4MinLen {
			return hdr.IPv4(l3).TTL()
		}
	case hdr.EtherTypeIPv6:
		if len(l3) >= hdr.IPv6Len {
			return hdr.IPv6(l3).HopLimit()
		}
	}
	return 64
}
