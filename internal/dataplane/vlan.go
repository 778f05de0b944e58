package dataplane

import (
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// VLAN sub-interfaces (the kernel's 8021q, which this machine's kernel
// lacks): a device stacked on a port, a tunnel or another VLAN device, that
// sees the frames tagged with its VID and tags what it sends.
//
//	receive:  parent ──[TPID VID]──► strip ──► ethernetInput(child)
//	transmit: child ──► insert [TPID TCI] ──► emit(parent)  (port, tunnel, VLAN)
//
// Tags always travel in the frame here (ports reinsert what the kernel
// moved to metadata), so a VLAN device on a VXLAN device puts its tag in
// the inner Ethernet header by construction (spec §3.8 V19).

// OverExternalTunnel reports whether d's frames leave through a
// flow-based tunnel device: d itself, or the device at the bottom of its
// VLAN stack. Such frames need TX metadata, solicitations included.
func (d *Device) OverExternalTunnel() bool {
	for n := 0; d.VLAN != nil && n < 16; n++ {
		d = d.VLAN.Parent
	}
	return d.Tunnel != nil && d.Tunnel.External
}

// vlanInput demultiplexes a tagged frame received on in to the VLAN device
// for its TPID and VID, with the tag removed. A priority tag (VID 0) is
// stripped and the frame stays on in, as the kernel treats it as untagged;
// a VID nobody configured is dropped (the kernel marks it PACKET_OTHERHOST).
func (w *worker) vlanInput(in *Device, p *pkt.Packet, tpid uint16) {
	f := p.Bytes()
	if len(f) < hdr.EthernetLen+hdr.VLANLen {
		w.dropIn(in.Index, p, DropL2Invalid)
		return
	}
	tci := binary.BigEndian.Uint16(f[hdr.EthernetLen:])
	vid := tci & 0x0fff
	child := in
	if vid != 0 {
		child = in.VLANs[VLANKey(tpid, vid)]
		if child == nil {
			w.dropIn(in.Index, p, DropVLAN)
			return
		}
	}
	stripTag(p)
	p.VLAN = tci
	if child == in {
		w.ethernetInput(in, p)
		return
	}
	if !child.Up {
		w.dropIn(child.Index, p, DropInputDown)
		return
	}
	dc := &w.c.dev[child.Index]
	dc.rxPackets.Add(1)
	dc.rxBytes.Add(uint64(p.Len()))
	p.InPort = child.Index
	w.ethernetInput(child, p)
}

// vlanXmit tags a finished frame of VLAN device out and hands it to the
// device below, counting it on out as the kernel counts on both.
func (w *worker) vlanXmit(out *Device, p *pkt.Packet) {
	v := out.VLAN
	if !v.Parent.Up {
		w.dropOut(out.Index, p, DropOutDown)
		return
	}
	if !insertTag(p, v.TPID, v.VID) {
		w.dropOut(out.Index, p, DropTunnelEncap)
		return
	}
	dc := &w.c.dev[out.Index]
	dc.txPackets.Add(1)
	dc.txBytes.Add(uint64(p.Len()))
	w.emit(v.Parent, p)
}

// stripTag removes the tag behind the MAC addresses; offsets into the
// frame (L3, L4, the GSO checksum start and header length) follow the
// bytes they pointed at. The caller checked the frame holds a tag.
func stripTag(p *pkt.Packet) {
	f := p.Bytes()
	copy(f[hdr.VLANLen:hdr.VLANLen+12], f[:12])
	p.Pull(hdr.VLANLen)
	shiftFrameOffsets(p, -hdr.VLANLen)
}

// insertTag puts a tag (tpid, vid, priority 0) behind the MAC addresses.
// It reports false, with p unchanged, when the headroom is too small.
func insertTag(p *pkt.Packet, tpid, vid uint16) bool {
	if p.Headroom() < hdr.VLANLen || p.Len() < hdr.EthernetLen || p.Len()+hdr.VLANLen > pkt.MaxFrame {
		return false
	}
	p.Prepend(hdr.VLANLen)
	f := p.Bytes()
	copy(f[:12], f[hdr.VLANLen:hdr.VLANLen+12])
	binary.BigEndian.PutUint16(f[12:], tpid)
	binary.BigEndian.PutUint16(f[14:], vid&0x0fff)
	shiftFrameOffsets(p, hdr.VLANLen)
	return true
}

// shiftFrameOffsets moves the offsets that point behind the Ethernet
// addresses by delta bytes.
func shiftFrameOffsets(p *pkt.Packet, delta int) {
	move := func(v uint16) uint16 {
		if v < 12 {
			return v
		}
		n := int(v) + delta
		if n < 12 || n > 0xffff {
			return 0
		}
		return uint16(n)
	}
	p.L3, p.L4 = move(p.L3), move(p.L4)
	if p.GSO.NeedsCsum {
		p.GSO.CsumStart = move(p.GSO.CsumStart)
	}
	p.GSO.HdrLen = move(p.GSO.HdrLen)
}
