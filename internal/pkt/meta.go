package pkt

// MetaKind says what the metadata slot holds, like the kernel's
// metadata_dst type.
type MetaKind uint8

const (
	MetaNone    MetaKind = iota // no metadata
	MetaTunnel                  // tunnel info (METADATA_IP_TUNNEL)
	MetaPortMux                 // port mux (METADATA_HW_PORT_MUX)
)

// Tunnel flag bits (the kernel's TUNNEL_* values; big-endian on the wire in
// lwtunnel and OVS attributes, host order here).
const (
	TunnelCsum       uint16 = 0x0001
	TunnelFlagKey    uint16 = 0x0004
	TunnelSeq        uint16 = 0x0008
	TunnelDontFrag   uint16 = 0x0100
	TunnelOAM        uint16 = 0x0200
	TunnelCritOpt    uint16 = 0x0400
	TunnelGeneveOpt  uint16 = 0x0800
	TunnelVXLANOpt   uint16 = 0x1000
	TunnelNoCache    uint16 = 0x2000
	TunnelERSPANOpt  uint16 = 0x4000
	TunnelOptPresent        = TunnelGeneveOpt | TunnelVXLANOpt | TunnelERSPANOpt
)

// Tunnel info mode bits.
const (
	TunnelModeTX     uint8 = 0x01 // transmit metadata (clear: received)
	TunnelModeIPv6   uint8 = 0x02 // addresses are IPv6
	TunnelModeBridge uint8 = 0x04 // TX with only the VNI: device does its FDB lookup
)

// MaxTunnelOpts is IP_TUNNEL_OPTS_MAX.
const MaxTunnelOpts = 255

// TunnelKey is the kernel's ip_tunnel_key. Addresses are 16 bytes; an IPv4
// address occupies the first 4 and the other 12 stay zero, so keys compare
// byte-exactly the way the kernel's memcmp does.
//
// On receive Src is the remote endpoint and Dst the local address; on
// transmit Dst is the remote endpoint and Src the local one (zero = any).
type TunnelKey struct {
	ID    uint64 // tun_id (VNI in the low 24 bits for VXLAN)
	Src   [16]byte
	Dst   [16]byte
	Flags uint16 // Tunnel* bits
	TOS   uint8
	TTL   uint8
	Label uint32 // IPv6 flow label
	TpSrc uint16
	TpDst uint16
}

// TunnelInfo is the kernel's ip_tunnel_info: key, mode and options.
type TunnelInfo struct {
	Key    TunnelKey
	Mode   uint8
	OptLen uint8
	Opts   [MaxTunnelOpts]byte
}

// Options returns the option bytes.
func (t *TunnelInfo) Options() []byte { return t.Opts[:t.OptLen] }

// SetOptions copies opts and sets the matching flag bit (one of
// TunnelGeneveOpt, TunnelVXLANOpt, TunnelERSPANOpt). It reports false if
// opts is longer than MaxTunnelOpts.
func (t *TunnelInfo) SetOptions(opts []byte, flag uint16) bool {
	if len(opts) > MaxTunnelOpts {
		return false
	}
	t.OptLen = uint8(copy(t.Opts[:], opts))
	t.Key.Flags = t.Key.Flags&^TunnelOptPresent | flag
	return true
}

// Equal compares two tunnel infos byte-exactly: key, mode, option length
// and option bytes (the kernel's ip_tunnel_info comparison).
func (t *TunnelInfo) Equal(u *TunnelInfo) bool {
	return t.Key == u.Key && t.Mode == u.Mode && t.OptLen == u.OptLen &&
		string(t.Opts[:t.OptLen]) == string(u.Opts[:u.OptLen])
}

// IsTX reports whether the info is transmit metadata.
func (t *TunnelInfo) IsTX() bool { return t.Mode&TunnelModeTX != 0 }

// IsIPv6 reports whether the addresses are IPv6.
func (t *TunnelInfo) IsIPv6() bool { return t.Mode&TunnelModeIPv6 != 0 }

// PortMux is the kernel's hw_port_info: the lower device that carries the
// packet and the port id it selects there (a representor's port).
type PortMux struct {
	Lower  uint32 // index of the lower device
	PortID uint32
}

// Metadata is the per-packet metadata slot.
type Metadata struct {
	Kind   MetaKind
	Port   PortMux
	Tunnel TunnelInfo
}

// Clear empties the slot. Only the header is reset; the tunnel option
// bytes beyond OptLen are never read.
func (m *Metadata) Clear() {
	m.Kind = MetaNone
	m.Port = PortMux{}
	m.Tunnel.Key = TunnelKey{}
	m.Tunnel.Mode, m.Tunnel.OptLen = 0, 0
}

// Equal compares two slots the way GRO and batching decisions need:
// same kind and byte-equal contents.
func (m *Metadata) Equal(o *Metadata) bool {
	if m.Kind != o.Kind {
		return false
	}
	switch m.Kind {
	case MetaTunnel:
		return m.Tunnel.Equal(&o.Tunnel)
	case MetaPortMux:
		return m.Port == o.Port
	}
	return true
}

// SetTunnel puts tunnel info in the slot.
func (m *Metadata) SetTunnel(t *TunnelInfo) {
	m.Kind = MetaTunnel
	m.Port = PortMux{}
	m.Tunnel.Key, m.Tunnel.Mode = t.Key, t.Mode
	m.Tunnel.OptLen = uint8(copy(m.Tunnel.Opts[:], t.Opts[:t.OptLen]))
}

// SetPortMux puts port-mux metadata in the slot.
func (m *Metadata) SetPortMux(lower, portID uint32) {
	m.Clear()
	m.Kind = MetaPortMux
	m.Port = PortMux{Lower: lower, PortID: portID}
}

// TunnelInfo returns the tunnel info if the slot holds one, else nil.
func (m *Metadata) TunnelInfo() *TunnelInfo {
	if m.Kind != MetaTunnel {
		return nil
	}
	return &m.Tunnel
}
