package tunnel

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"flowpath/internal/errs"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// EncapType is the kernel's enum lwtunnel_encap_types (RTA_ENCAP_TYPE).
type EncapType uint16

const (
	EncapNone      EncapType = 0
	EncapMPLS      EncapType = 1
	EncapIP        EncapType = 2
	EncapILA       EncapType = 3
	EncapIP6       EncapType = 4
	EncapSEG6      EncapType = 5
	EncapBPF       EncapType = 6
	EncapSEG6Local EncapType = 7
	EncapRPL       EncapType = 8
	EncapIOAM6     EncapType = 9
	EncapXFRM      EncapType = 10
	// EncapMax is LWTUNNEL_ENCAP_MAX: a type above it is "unknown"
	// (EINVAL), a known type flowpath has no implementation of is "not
	// supported" (EOPNOTSUPP), as for a kernel without the module.
	EncapMax = EncapXFRM
)

var encapNames = [...]string{
	EncapNone: "none", EncapMPLS: "mpls", EncapIP: "ip", EncapILA: "ila", EncapIP6: "ip6",
	EncapSEG6: "seg6", EncapBPF: "bpf", EncapSEG6Local: "seg6local", EncapRPL: "rpl",
	EncapIOAM6: "ioam6", EncapXFRM: "xfrm",
}

// String is iproute2's name for the type ("ip", "ip6", "mpls", ...), and
// "unknown" above EncapMax as iproute2 prints it.
func (t EncapType) String() string {
	if int(t) < len(encapNames) {
		return encapNames[t]
	}
	return "unknown"
}

// ParseEncapType reads an iproute2 type name or a decimal type number (the
// raw RTA_ENCAP_TYPE value, for tests of out-of-range types).
func ParseEncapType(s string) (EncapType, bool) {
	for i, n := range encapNames {
		if i != int(EncapNone) && n == s {
			return EncapType(i), true
		}
	}
	v, err := strconv.ParseUint(s, 10, 16)
	if err != nil {
		return 0, false
	}
	return EncapType(v), true
}

// Limits of the encap state.
const (
	// MaxLabels is MAX_NEW_LABELS: the largest label stack an MPLS encap or
	// label route pushes. The kernel had 2 up to 4.12 and 30 since 4.13;
	// flowpath follows 4.13+.
	MaxLabels = 30
	// MaxLabel is the largest 20-bit label value.
	MaxLabel = 0xfffff
	// MaxGeneveOptData is the largest data of one Geneve option (the 5-bit
	// length counts 4-byte words: 31*4). The kernel's netlink policy refuses
	// more than 127 bytes with ERANGE and a length not a multiple of 4 with
	// EINVAL, which together leave 124.
	MaxGeneveOptData = 124
	geneveDataPolicy = 127
)

// Encap is the encapsulation state of a route's nexthop (the kernel's
// lwtunnel_state with its private data). It is immutable once built and
// shared by every FIB snapshot that holds the route.
type Encap struct {
	Type EncapType
	// Info is the TX tunnel info of EncapIP/EncapIP6, exactly as
	// ip_tun_build_state fills it: mode TX (|IPV6), the flags given with
	// the option bits set only by options, unused address bytes zero.
	Info pkt.TunnelInfo
	// Labels are the EncapMPLS label values, outermost first.
	Labels []uint32
	// TTL is the EncapMPLS TTL to write when TTLMode is MPLSTTLDisabled.
	TTL uint8
	// TTLMode is the kernel's ttl_propagate of an MPLS encap (spec §1.7):
	// default (no ttl given: net.mpls.ip_ttl_propagate decides), enabled
	// ("ttl 0": the inner TTL), disabled ("ttl N": N).
	TTLMode MPLSTTLMode
}

// MPLSTTLMode is MPLS_TTL_PROP_*.
type MPLSTTLMode uint8

const (
	MPLSTTLDefault MPLSTTLMode = iota
	MPLSTTLEnabled
	MPLSTTLDisabled
)

// MPLSTTL is the TTL an MPLS encap writes: the configured one, the
// system's default TTL when propagation is off by sysctl for a route that
// did not choose, or 0 (PushMPLS then propagates the inner TTL).
func (e *Encap) MPLSTTL(sysPropagate bool, sysDefault uint8) uint8 {
	switch {
	case e.TTLMode == MPLSTTLDisabled:
		return e.TTL
	case e.TTLMode == MPLSTTLDefault && !sysPropagate:
		return sysDefault
	}
	return 0
}

// Equal is lwtunnel_cmp_encap negated: two nil states are equal; otherwise
// both exist, have the same type and the same state byte for byte (for IP:
// key, mode, option length and option bytes; for MPLS: labels and TTL).
func (e *Encap) Equal(o *Encap) bool {
	if e == nil || o == nil {
		return e == o
	}
	if e.Type != o.Type {
		return false
	}
	switch e.Type {
	case EncapIP, EncapIP6:
		return e.Info.Equal(&o.Info)
	case EncapMPLS:
		return e.TTL == o.TTL && e.TTLMode == o.TTLMode && slices.Equal(e.Labels, o.Labels)
	}
	return true
}

// Headroom is the number of bytes the encap adds in front of the packet
// (lwtunnel_state.headroom): 4 per MPLS label, 0 for ip/ip6 (the tunnel
// device accounts for its own headers). A nil Encap adds nothing.
func (e *Encap) Headroom() int {
	if e == nil || e.Type != EncapMPLS {
		return 0
	}
	return 4 * len(e.Labels)
}

// MTUHeadroom is lwtunnel_headroom: what to subtract from a route's MTU
// mtu. Only encaps that redirect output or xmit count (MPLS), and only when
// the headroom is smaller than the MTU.
func (e *Encap) MTUHeadroom(mtu uint32) uint32 {
	h := uint32(e.Headroom())
	if h < mtu {
		return h
	}
	return 0
}

// EncapConfig is what a route's "encap" clause says; it mirrors api.Encap
// (the control plane converts). A field not given is zero.
type EncapConfig struct {
	Type     string // "ip", "ip6", "mpls" (others: not supported), or a number
	ID       uint64
	Dst, Src string // outer addresses ("" = not given = 0)
	TTL      uint8  // ip: ttl; ip6: hoplimit; mpls: see SetTTL
	SetTTL   bool   // mpls: a ttl was given (0 = propagate, else that TTL); none: the sysctl decides
	TOS      uint8  // ip: tos; ip6: tc
	Flags    []string
	// GeneveOpts is iproute2's CLASS:TYPE:DATA[,CLASS:TYPE:DATA...]: CLASS
	// and TYPE numbers with C base prefixes (decimal, 0x hex, 0 octal), as
	// iproute2 parses them with base 0; DATA hex bytes.
	GeneveOpts   string
	VXLANOpts    uint32
	SetVXLANOpts bool
	Labels       []uint32
	// LSEs is the stack as raw label stack entries, the words of the
	// kernel's MPLS_IPTUNNEL_DST (what iproute2 puts in the netlink
	// message): label<<12, the S bit on the last entry only, TC and TTL
	// zero. An alternative to Labels; Build decodes and checks them as
	// nla_get_labels does.
	LSEs []uint32
}

// Build validates c and builds the encap state the way the kernel's
// lwtunnel_build_state and the type's build_state do, returning the
// kernel's errno as an errs sentinel:
//
//   - type 0, unknown or above EncapMax: ErrInvalid; a known type flowpath
//     does not implement (ila, seg6, bpf, ...): ErrNotSupported;
//   - ip/ip6: addresses of the wrong family, an unknown or repeated flag,
//     both geneve_opts and vxlan_opts, a malformed Geneve option, option
//     data not a multiple of 4, options over 255 bytes: ErrInvalid; option
//     data over 127 bytes: ErrRange (netlink policy);
//   - mpls: no labels, more than MaxLabels, a label over 20 bits, label 3
//     (implicit null), both Labels and LSEs, a raw entry with TTL or TC
//     set, or the S bit anywhere but on the last entry: ErrInvalid.
func Build(c *EncapConfig) (*Encap, error) { return AllEncapTypes.Build(c, false) }

// BuildMultipath is Build for an encap inside a multipath nexthop, where
// the kernel reports every type failure, an out-of-range type included, as
// EOPNOTSUPP (spec §1.4, L5).
func BuildMultipath(c *EncapConfig) (*Encap, error) { return AllEncapTypes.Build(c, true) }

// EncapTypes is a set of encapsulation types: the ones a flowpathd builds
// routes with, as the kernel builds only the types whose lwtunnel ops are
// registered (built in, or a module such as mpls_iptunnel loaded).
type EncapTypes uint32

// AllEncapTypes are the types flowpath implements.
const AllEncapTypes = EncapTypes(1<<EncapIP | 1<<EncapIP6 | 1<<EncapMPLS)

// Has reports whether t is in the set.
func (s EncapTypes) Has(t EncapType) bool { return t < 32 && s&(1<<t) != 0 }

// String lists the set as ParseEncapTypes reads it ("ip,ip6,mpls").
func (s EncapTypes) String() string {
	var names []string
	for t := EncapType(1); t <= EncapMax; t++ {
		if s.Has(t) {
			names = append(names, t.String())
		}
	}
	return strings.Join(names, ",")
}

// ParseEncapTypes reads a comma-separated list of iproute2 type names, each
// one flowpath implements; "" is the empty set.
func ParseEncapTypes(list string) (EncapTypes, error) {
	var s EncapTypes
	if list == "" {
		return 0, nil
	}
	for _, name := range strings.Split(list, ",") {
		t, ok := ParseEncapType(name)
		if _, err := strconv.Atoi(name); err == nil || !ok || !AllEncapTypes.Has(t) {
			return 0, fmt.Errorf("encap type %q: flowpath implements %s: %w", name, AllEncapTypes, errs.ErrInvalid)
		}
		s |= 1 << t
	}
	return s, nil
}

// Build checks c and builds its state with the types of s available: a
// type in range but not in s is EOPNOTSUPP, as for a kernel that could not
// load the type's module (spec §1.4, L6); multipath as in BuildMultipath.
func (s EncapTypes) Build(c *EncapConfig, multipath bool) (*Encap, error) {
	if c == nil {
		return nil, fmt.Errorf("encap: missing: %w", errs.ErrInvalid)
	}
	t, ok := ParseEncapType(c.Type)
	if !ok || t == EncapNone || t > EncapMax {
		if multipath {
			return nil, fmt.Errorf("encap %q: lwt encapsulation type not supported: %w", c.Type, errs.ErrNotSupported)
		}
		return nil, fmt.Errorf("encap %q: unknown lwt encapsulation type: %w", c.Type, errs.ErrInvalid)
	}
	if !s.Has(t) {
		return nil, fmt.Errorf("encap %s: lwt encapsulation type not supported: %w", t, errs.ErrNotSupported)
	}
	switch t {
	case EncapIP, EncapIP6:
		return buildIP(c, t)
	case EncapMPLS:
		return buildMPLS(c)
	}
	return nil, fmt.Errorf("encap %s: lwt encapsulation type not supported: %w", t, errs.ErrNotSupported)
}

func buildIP(c *EncapConfig, t EncapType) (*Encap, error) {
	if len(c.Labels) != 0 || len(c.LSEs) != 0 {
		return nil, fmt.Errorf("encap %s: labels are an mpls argument: %w", t, errs.ErrInvalid)
	}
	e := &Encap{Type: t}
	k := &e.Info.Key
	k.ID = c.ID
	k.TTL, k.TOS = c.TTL, c.TOS
	var err error
	if k.Dst, err = encapAddr(c.Dst, t, "dst"); err != nil {
		return nil, err
	}
	if k.Src, err = encapAddr(c.Src, t, "src"); err != nil {
		return nil, err
	}
	for i, f := range c.Flags {
		var bit uint16
		switch f {
		case "key":
			bit = pkt.TunnelFlagKey
		case "csum":
			bit = pkt.TunnelCsum
		case "seq":
			bit = pkt.TunnelSeq
		default:
			return nil, fmt.Errorf("encap %s: unknown flag %q: %w", t, f, errs.ErrInvalid)
		}
		if slices.Contains(c.Flags[:i], f) {
			return nil, fmt.Errorf("encap %s: duplicate %q: %w", t, f, errs.ErrInvalid)
		}
		k.Flags |= bit
	}
	// Userspace never sets the option-present bits itself: the kernel
	// masks them out of LWTUNNEL_IP_FLAGS and sets them from OPTS. (The
	// three keywords above cannot reach them; the mask states the rule.)
	k.Flags &^= pkt.TunnelOptPresent
	gbp := c.SetVXLANOpts || c.VXLANOpts != 0
	if c.GeneveOpts != "" && gbp {
		return nil, fmt.Errorf("encap %s: geneve_opts and vxlan_opts are exclusive: %w", t, errs.ErrInvalid)
	}
	if c.GeneveOpts != "" {
		n, err := parseGeneveOpts(c.GeneveOpts, e.Info.Opts[:])
		if err != nil {
			return nil, fmt.Errorf("encap %s: geneve_opts %q: %w", t, c.GeneveOpts, err)
		}
		e.Info.OptLen = uint8(n)
		k.Flags |= pkt.TunnelGeneveOpt
	}
	if gbp {
		SetGBP(&e.Info, c.VXLANOpts&GBPMask)
	}
	e.Info.Mode = pkt.TunnelModeTX
	if t == EncapIP6 {
		e.Info.Mode |= pkt.TunnelModeIPv6
	}
	return e, nil
}

// encapAddr parses an outer address of the encap's family into the
// 16-byte key form (IPv4 in the first 4 bytes, the rest zero).
func encapAddr(s string, t EncapType, what string) ([16]byte, error) {
	var out [16]byte
	if s == "" {
		return out, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || (t == EncapIP) != a.Is4() {
		return out, fmt.Errorf("encap %s: invalid %s %q: %w", t, what, s, errs.ErrInvalid)
	}
	if a.Is4() {
		v := a.As4()
		copy(out[:], v[:])
	} else {
		out = a.As16()
	}
	return out, nil
}

// parseGeneveOpts parses iproute2's geneve_opts into Geneve TLVs in out
// and returns their length. The checks follow the kernel's
// ip_tun_parse_opts_geneve in order, option by option: every part present
// (EINVAL), data at most 127 bytes (ERANGE, policy), a multiple of 4
// (EINVAL), the running total at most 255 (EINVAL).
func parseGeneveOpts(s string, out []byte) (int, error) {
	n := 0
	for _, opt := range strings.Split(s, ",") {
		parts := strings.Split(opt, ":")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
			return 0, fmt.Errorf("option %q needs CLASS:TYPE:DATA: %w", opt, errs.ErrInvalid)
		}
		class, err := parseCUint(parts[0], 16)
		if err != nil {
			return 0, fmt.Errorf("invalid class %q: %w", parts[0], errs.ErrInvalid)
		}
		typ, err := parseCUint(parts[1], 8)
		if err != nil {
			return 0, fmt.Errorf("invalid type %q: %w", parts[1], errs.ErrInvalid)
		}
		if len(parts[2])%2 != 0 {
			return 0, fmt.Errorf("data %q is not whole bytes: %w", parts[2], errs.ErrInvalid)
		}
		dl := len(parts[2]) / 2
		if dl > geneveDataPolicy {
			return 0, fmt.Errorf("option data of %d bytes: attribute failed policy validation: %w", dl, errs.ErrRange)
		}
		if dl%4 != 0 {
			return 0, fmt.Errorf("option data of %d bytes is not a multiple of 4: %w", dl, errs.ErrInvalid)
		}
		if n+4+dl > pkt.MaxTunnelOpts {
			return 0, fmt.Errorf("options longer than %d bytes: %w", pkt.MaxTunnelOpts, errs.ErrInvalid)
		}
		o := out[n : n+4+dl]
		if _, err := hex.Decode(o[4:], []byte(parts[2])); err != nil {
			return 0, fmt.Errorf("invalid data %q: %w", parts[2], errs.ErrInvalid)
		}
		binary.BigEndian.PutUint16(o, uint16(class))
		o[2] = uint8(typ)
		o[3] = uint8(dl / 4) // the 3 reserved flag bits stay 0, as the kernel leaves them
		n += len(o)
	}
	return n, nil
}

// parseCUint reads an unsigned number the way iproute2's get_u16/get_u8
// do with base 0 (strtoul): "0x" hex, a leading 0 octal, else decimal;
// unlike Go's base 0 it takes no "0b"/"0o" prefixes and no underscores.
func parseCUint(s string, bitSize int) (uint64, error) {
	base := 10
	switch {
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		s, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		s, base = s[1:], 8
	}
	if s == "" || strings.ContainsAny(s, "_+-") {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(s, base, bitSize)
}

// formatGeneveOpts prints Geneve TLVs the way iproute2 prints them
// (class and type in decimal, data in hex), which parseGeneveOpts reads
// back to the same bytes.
func formatGeneveOpts(opts []byte) string {
	var sb strings.Builder
	for len(opts) >= 4 {
		l := 4 + int(opts[3]&0x1f)*4
		if l > len(opts) {
			break
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "%d:%d:%x", binary.BigEndian.Uint16(opts), opts[2], opts[4:l])
		opts = opts[l:]
	}
	return sb.String()
}

func buildMPLS(c *EncapConfig) (*Encap, error) {
	if c.ID != 0 || c.Dst != "" || c.Src != "" || c.TOS != 0 || len(c.Flags) != 0 ||
		c.GeneveOpts != "" || c.SetVXLANOpts || c.VXLANOpts != 0 {
		return nil, fmt.Errorf("encap mpls: takes only labels and ttl: %w", errs.ErrInvalid)
	}
	labels := c.Labels
	if len(c.LSEs) != 0 {
		if len(labels) != 0 {
			return nil, fmt.Errorf("encap mpls: labels given twice (numbers and raw entries): %w", errs.ErrInvalid)
		}
		var err error
		if labels, err = DecodeLSEs(c.LSEs); err != nil {
			return nil, fmt.Errorf("encap mpls: %w", err)
		}
	}
	if len(labels) == 0 {
		return nil, fmt.Errorf("encap mpls: missing labels: %w", errs.ErrInvalid)
	}
	if err := CheckLabels(labels); err != nil {
		return nil, fmt.Errorf("encap mpls: %w", err)
	}
	e := &Encap{Type: EncapMPLS, Labels: slices.Clone(labels)}
	switch {
	case c.SetTTL && c.TTL == 0:
		e.TTLMode = MPLSTTLEnabled
	case c.SetTTL || c.TTL != 0: // a TTL without SetTTL: older clients meant it
		e.TTLMode, e.TTL = MPLSTTLDisabled, c.TTL
	}
	return e, nil
}

// DecodeLSEs reads a stack given as raw label stack entries (outermost
// first) the way the kernel's nla_get_labels does: from the bottom up, an
// entry with a TTL or a traffic class, or whose S bit is not set exactly
// on the last entry, is ErrInvalid (the stack a route pushes gets its TTL
// and S bits when it is pushed). The labels' number and values are
// CheckLabels' to check.
func DecodeLSEs(lse []uint32) ([]uint32, error) {
	labels := make([]uint32, len(lse))
	var word [hdr.MPLSLen]byte
	for i := len(lse) - 1; i >= 0; i-- {
		binary.BigEndian.PutUint32(word[:], lse[i])
		e, last := hdr.MPLS(word[:]), i == len(lse)-1
		switch {
		case e.TTL() != 0:
			return nil, fmt.Errorf("label entry %d: TTL in label must be 0: %w", i, errs.ErrInvalid)
		case e.TC() != 0:
			return nil, fmt.Errorf("label entry %d: traffic class in label must be 0: %w", i, errs.ErrInvalid)
		case e.BottomOfStack() != last && last:
			return nil, fmt.Errorf("label entry %d: BOS bit must be set in the last label: %w", i, errs.ErrInvalid)
		case e.BottomOfStack() != last:
			return nil, fmt.Errorf("label entry %d: BOS bit can only be set in the last label: %w", i, errs.ErrInvalid)
		}
		labels[i] = e.Label()
	}
	return labels, nil
}

// CheckLabels validates a label stack to push, for an MPLS encap or a
// label route's "as L1/L2...", the way nla_get_labels does (iproute2
// refuses a value over 20 bits before sending): at most MaxLabels labels,
// and not the implicit null (3), which never appears on the wire; the other
// reserved labels are allowed. All failures are ErrInvalid. An empty stack
// passes (a label route without "as" pops).
func CheckLabels(labels []uint32) error {
	for _, l := range labels {
		if l > MaxLabel {
			return fmt.Errorf("label %d is more than 20 bits: %w", l, errs.ErrInvalid)
		}
	}
	if len(labels) > MaxLabels {
		return fmt.Errorf("too many labels (%d, at most %d): %w", len(labels), MaxLabels, errs.ErrInvalid)
	}
	for _, l := range labels {
		if l == hdr.MPLSLabelImplicitNull {
			return fmt.Errorf("implicit null label (3) can not be used in encapsulation: %w", errs.ErrInvalid)
		}
	}
	return nil
}

// CheckRouteLabel validates the incoming label of a label route (`ip -f
// mpls route add LABEL ...`) as mpls_label_ok does: the reserved labels
// below 16 cannot be routed, and the label must be below platformLabels
// (net.mpls.platform_labels). Both are ErrInvalid.
func CheckRouteLabel(label, platformLabels uint32) error {
	if label < hdr.MPLSLabelFirstUnreserved {
		return fmt.Errorf("label %d: invalid label - must be 16 or higher: %w", label, errs.ErrInvalid)
	}
	if label >= platformLabels {
		return fmt.Errorf("label %d: label >= configured maximum in platform_labels (%d): %w", label, platformLabels, errs.ErrInvalid)
	}
	return nil
}

// Config gives the encap back as configuration, the way fill_encap dumps
// it for `route show`: for ip/ip6 every field is present, zero ones
// included (src 0.0.0.0, ttl 0, tos 0); flags in iproute2's order (key,
// csum, seq). Build(&e.Config()) gives an Encap Equal to e.
func (e *Encap) Config() EncapConfig {
	if e == nil {
		return EncapConfig{}
	}
	c := EncapConfig{Type: e.Type.String()}
	switch e.Type {
	case EncapMPLS:
		c.Labels = slices.Clone(e.Labels)
		c.TTL, c.SetTTL = e.TTL, e.TTLMode != MPLSTTLDefault
	case EncapIP, EncapIP6:
		k := &e.Info.Key
		c.ID, c.TTL, c.TOS = k.ID, k.TTL, k.TOS
		if e.Type == EncapIP {
			c.Dst = netip.AddrFrom4([4]byte(k.Dst[:4])).String()
			c.Src = netip.AddrFrom4([4]byte(k.Src[:4])).String()
		} else {
			c.Dst = netip.AddrFrom16(k.Dst).String()
			c.Src = netip.AddrFrom16(k.Src).String()
		}
		for _, f := range []struct {
			bit  uint16
			name string
		}{{pkt.TunnelFlagKey, "key"}, {pkt.TunnelCsum, "csum"}, {pkt.TunnelSeq, "seq"}} {
			if k.Flags&f.bit != 0 {
				c.Flags = append(c.Flags, f.name)
			}
		}
		switch {
		case k.Flags&pkt.TunnelGeneveOpt != 0:
			c.GeneveOpts = formatGeneveOpts(e.Info.Options())
		case k.Flags&pkt.TunnelVXLANOpt != 0:
			c.VXLANOpts, _ = GBP(&e.Info)
			c.SetVXLANOpts = true
		}
	}
	return c
}
