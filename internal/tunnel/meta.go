package tunnel

import (
	"net/netip"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// FillRXInfo fills t with the receive tunnel metadata of a UDP tunnel
// packet, as udp_tun_rx_dst does (spec §2.3): from the outer IPv4 or IPv6
// header at outerL3 the remote endpoint as Src and the local address as
// Dst (unused address bytes zero), TOS or traffic class, TTL or hop limit,
// the IPv6 flow label (0 for IPv4); the UDP ports as TpSrc/TpDst; tun_id
// id; flags, with TUNNEL_CSUM added when the UDP checksum field is not 0;
// mode 0 (| IPV6); no options. It reports false, with t cleared, when
// outerL3 is not a whole IPv4 or IPv6 header. A udp shorter than its
// header leaves the ports 0.
func FillRXInfo(t *pkt.TunnelInfo, outerL3 []byte, udp hdr.UDP, id uint64, flags uint16) bool {
	t.Key = pkt.TunnelKey{}
	t.Mode, t.OptLen = 0, 0
	if len(outerL3) == 0 {
		return false
	}
	k := &t.Key
	switch outerL3[0] >> 4 {
	case 4:
		if len(outerL3) < hdr.IPv4MinLen {
			return false
		}
		copy(k.Src[:4], outerL3[12:16])
		copy(k.Dst[:4], outerL3[16:20])
		k.TOS, k.TTL = outerL3[1], outerL3[8]
	case 6:
		if len(outerL3) < hdr.IPv6Len {
			return false
		}
		ip := hdr.IPv6(outerL3)
		copy(k.Src[:], outerL3[8:24])
		copy(k.Dst[:], outerL3[24:40])
		k.TOS, k.TTL, k.Label = ip.TrafficClass(), ip.HopLimit(), ip.FlowLabel()
		t.Mode = pkt.TunnelModeIPv6
	default:
		return false
	}
	k.ID, k.Flags = id, flags
	if len(udp) >= hdr.UDPLen {
		k.TpSrc, k.TpDst = udp.SrcPort(), udp.DstPort()
		if udp.Checksum() != 0 {
			k.Flags |= pkt.TunnelCsum
		}
	}
	return true
}

// RXInfo is FillRXInfo returning the info by value (zero if outerL3 is not
// an IP header). The packet path prefers FillRXInfo into the packet's
// metadata slot, which saves copying the option area.
func RXInfo(outerL3 []byte, udp hdr.UDP, id uint64, flags uint16) pkt.TunnelInfo {
	var t pkt.TunnelInfo
	FillRXInfo(&t, outerL3, udp, id, flags)
	return t
}

// ReplyInfo is iptunnel_metadata_reply: the TX metadata that sends a reply
// back through the tunnel a packet arrived on (ARP replies to requests
// received over a tunnel). It reports false for transmit metadata (or nil):
// only received metadata has a sender to answer. The reply keeps tun_id,
// flags and options, sends to the original's Src, leaves the local address,
// TOS, TTL, label and ports 0, and its mode is the original's | TX.
func ReplyInfo(rx *pkt.TunnelInfo) (pkt.TunnelInfo, bool) {
	var r pkt.TunnelInfo
	if !FillReplyInfo(&r, rx) {
		return r, false
	}
	return r, true
}

// FillReplyInfo is ReplyInfo writing into r (which it clears when rx does
// not qualify).
func FillReplyInfo(r, rx *pkt.TunnelInfo) bool {
	r.Key = pkt.TunnelKey{}
	r.Mode, r.OptLen = 0, 0
	if rx == nil || rx.IsTX() {
		return false
	}
	r.Key.ID = rx.Key.ID
	if rx.IsIPv6() {
		r.Key.Dst = rx.Key.Src
	} else {
		copy(r.Key.Dst[:4], rx.Key.Src[:4])
	}
	r.Key.Flags = rx.Key.Flags
	r.Mode = rx.Mode | pkt.TunnelModeTX
	r.OptLen = uint8(copy(r.Opts[:], rx.Options()))
	return true
}

// TunnelIDToVNI is tunnel_id_to_key32 for VXLAN and Geneve: the VNI is the
// low 24 bits of tun_id.
func TunnelIDToVNI(id uint64) uint32 { return uint32(id) & 0xffffff }

// KeyDst and KeySrc read the key's addresses as netip.Addr in the info's
// family (IPv4 from the first 4 bytes unless the mode says IPv6), the form
// Outer takes.
func KeyDst(t *pkt.TunnelInfo) netip.Addr { return keyAddr(t, &t.Key.Dst) }

// KeySrc: see KeyDst.
func KeySrc(t *pkt.TunnelInfo) netip.Addr { return keyAddr(t, &t.Key.Src) }

func keyAddr(t *pkt.TunnelInfo, a *[16]byte) netip.Addr {
	if t.IsIPv6() {
		return netip.AddrFrom16(*a)
	}
	return netip.AddrFrom4([4]byte(a[:4]))
}
