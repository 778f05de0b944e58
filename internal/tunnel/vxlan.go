package tunnel

import (
	"encoding/binary"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// VXLAN sizes and ports (spec §3.1).
const (
	VXLANHeaderLen = hdr.VXLANLen
	// VXLANPort is the IANA port; VXLANPortLinux the kernel's default
	// (udp_port module parameter), used when a device names no dstport.
	VXLANPort      = 4789
	VXLANPortLinux = 8472
	// VXLANHeadroom is what VXLAN over IPv4 adds in front of the inner
	// packet: IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 (the device MTU
	// is the lower MTU minus this); VXLAN6Headroom the same over IPv6.
	VXLANHeadroom  = 50
	VXLAN6Headroom = 70
)

// GBP word bits (the kernel's vxlan_metadata.gbp, also the skb mark in
// classic mode): D (don't learn), A (policy applied), the 16-bit group
// policy ID.
const (
	GBPDontLearn     uint32 = 1 << 22
	GBPPolicyApplied uint32 = 1 << 19
	GBPIDMask        uint32 = 0xffff
	GBPMask                 = GBPDontLearn | GBPPolicyApplied | GBPIDMask
)

// VXLAN header bits (byte 0 and 1 of the header).
const (
	vxFlagI    = 0x08 // VNI valid
	vxFlagG    = 0x80 // GBP present
	vxGBPDont  = 0x40 // byte 1
	vxGBPApply = 0x08 // byte 1
)

// ParseVXLAN reads the VXLAN header at the start of b the way vxlan_rcv
// judges it and reports ok false for a packet the kernel drops:
//
//   - shorter than the header, or the I flag clear (§3.3 step 2);
//   - any reserved bit left over (step 8): without gbp, anything in bytes
//     0-3 but the I flag and anything in byte 7; with gbp the kernel treats
//     all of bytes 1-3 and the G bit as used, so only the other bits of
//     byte 0 and byte 7 count.
//
// With gbp and the G bit set, gbpWord is the group policy in the kernel's
// vxlan_metadata.gbp form (ID | D<<22 | A<<19) and hasGBP is true (step 7).
func ParseVXLAN(b []byte, gbp bool) (vni uint32, gbpWord uint32, hasGBP bool, ok bool) {
	v := hdr.VXLAN(b)
	if !v.IsValid() {
		return 0, 0, false, false
	}
	if b[7] != 0 {
		return 0, 0, false, false
	}
	flags := b[0] &^ vxFlagI
	if gbp {
		if flags&vxFlagG != 0 {
			hasGBP = true
			gbpWord = uint32(binary.BigEndian.Uint16(b[2:]))
			if b[1]&vxGBPDont != 0 {
				gbpWord |= GBPDontLearn
			}
			if b[1]&vxGBPApply != 0 {
				gbpWord |= GBPPolicyApplied
			}
		}
		flags &^= vxFlagG
	} else if b[1]|b[2]|b[3] != 0 {
		return 0, 0, false, false
	}
	if flags != 0 {
		return 0, 0, false, false
	}
	return v.VNI(), gbpWord, hasGBP, true
}

// PutVXLAN writes a VXLAN header into b[:8] (b must hold it): the I flag
// and the low 24 bits of vni, and, when withGBP (the device was created
// with gbp) and gbpWord is not zero, the G bit with D, A and the policy ID
// (vxlan_build_gbp_hdr writes nothing for a zero word).
func PutVXLAN(b []byte, vni uint32, gbpWord uint32, withGBP bool) {
	hdr.PutVXLAN(b, vni)
	if !withGBP || gbpWord == 0 {
		return
	}
	b[0] |= vxFlagG
	if gbpWord&GBPDontLearn != 0 {
		b[1] |= vxGBPDont
	}
	if gbpWord&GBPPolicyApplied != 0 {
		b[1] |= vxGBPApply
	}
	binary.BigEndian.PutUint16(b[2:], uint16(gbpWord))
}

// SetGBP puts a VXLAN GBP word into tunnel info as its options (4 bytes,
// TUNNEL_VXLAN_OPT), as vxlan_rcv does for a received G bit and lwtunnel
// for vxlan_opts. flowpath stores the word big-endian; the kernel keeps it
// in host order, but the bytes never leave the process, and a fixed order
// keeps metadata comparisons the same on every machine.
func SetGBP(t *pkt.TunnelInfo, gbp uint32) {
	var o [4]byte
	binary.BigEndian.PutUint32(o[:], gbp)
	t.SetOptions(o[:], pkt.TunnelVXLANOpt)
}

// GBP returns the GBP word a VXLAN device transmits for tunnel info t:
// 0 when t has no VXLAN options. ok is false when t claims VXLAN options
// but carries fewer than 4 bytes: the kernel drops such a packet (§3.4).
func GBP(t *pkt.TunnelInfo) (gbp uint32, ok bool) {
	if t.Key.Flags&pkt.TunnelVXLANOpt == 0 {
		return 0, true
	}
	if t.OptLen < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(t.Opts[:4]), true
}
