package tunnel

import (
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// Geneve constants (RFC 8926).
const (
	GenevePort = 6081
	// GeneveMaxOpts is the most option bytes a header can carry: the
	// 6-bit length counts 4-byte words.
	GeneveMaxOpts = 63 * 4
)

// ParseGeneve reads the Geneve header at the start of b as
// geneve_udp_encap_recv does, and reports ok false for what it drops
// whatever the device: b shorter than the 8-byte header or than the
// options it claims, or a version other than 0. opts aliases b; hdrLen is
// 8 plus the options; proto is the payload's ethertype (0x6558 for
// Ethernet).
//
// Which other packets the kernel drops depends on the device, so the
// caller decides, with GeneveRXFlags:
//
//   - a device without collect_metadata drops packets with the C
//     (critical options) bit: it understands no option ("Drop packets w/
//     critical options, since we don't support any"), counting
//     rx_frame_errors and rx_errors;
//   - a collect_metadata (external) device accepts them and passes the C
//     and O bits on as TUNNEL_CRIT_OPT and TUNNEL_OAM in the metadata,
//     with the option bytes, for whoever reads it (OVS, tc) to judge;
//   - unless inner_proto_inherit, a protocol other than 0x6558 is dropped
//     (rx_dropped).
//
// The kernel does not walk the option TLVs on receive; neither does this.
func ParseGeneve(b []byte) (vni uint32, opts []byte, proto uint16, hdrLen int, ok bool) {
	g := hdr.Geneve(b)
	if !g.IsValid() {
		return 0, nil, 0, 0, false
	}
	opts = g.Options()
	return g.VNI(), opts, g.Protocol(), hdr.GeneveMinLen + len(opts), true
}

// GeneveRXFlags returns the tunnel flags geneve_rx puts in the receive
// metadata for the header at b: TUNNEL_KEY, plus TUNNEL_OAM and
// TUNNEL_CRIT_OPT for the O and C bits. The caller adds the options with
// SetOptions(opts, TunnelGeneveOpt) when there are any (6.x sets
// GENEVE_OPT only then). 0 if b is shorter than the header.
func GeneveRXFlags(b []byte) uint16 {
	if len(b) < hdr.GeneveMinLen {
		return 0
	}
	g := hdr.Geneve(b)
	f := pkt.TunnelFlagKey
	if g.OAM() {
		f |= pkt.TunnelOAM
	}
	if g.Critical() {
		f |= pkt.TunnelCritOpt
	}
	return f
}

// PutGeneve writes a Geneve header with vni, payload protocol proto and
// the option bytes opts into b and returns its length, or 0 (nothing
// written) if opts is not a whole number of 4-byte words up to
// GeneveMaxOpts or b is too short. The C bit is set when an option's type
// has its critical bit (RFC 8926 §3.5); the kernel instead copies C and O
// from TUNNEL_CRIT_OPT/TUNNEL_OAM of the metadata: use SetGeneveFlags
// afterwards to reproduce that exactly.
func PutGeneve(b []byte, vni uint32, proto uint16, opts []byte) int {
	if len(opts)%4 != 0 || len(opts) > GeneveMaxOpts || len(b) < hdr.GeneveMinLen+len(opts) {
		return 0
	}
	return hdr.PutGeneve(b, vni, proto, opts)
}

// SetGeneveFlags sets the O and C bits of the Geneve header at b (as
// geneve_build_header does from the metadata flags). Nothing happens if b
// is shorter than the header.
func SetGeneveFlags(b []byte, oam, critical bool) {
	if len(b) < hdr.GeneveMinLen {
		return
	}
	b[1] &^= 0xc0
	if oam {
		b[1] |= 0x80
	}
	if critical {
		b[1] |= 0x40
	}
}

// GeneveOptsValid reports whether opts can be sent as Geneve options: a
// sequence of whole TLVs, at most GeneveMaxOpts bytes.
func GeneveOptsValid(opts []byte) bool {
	return len(opts) <= GeneveMaxOpts && hdr.GeneveOptionsValid(opts)
}
