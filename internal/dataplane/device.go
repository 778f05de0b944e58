package dataplane

import (
	"net/netip"

	"flowpath/internal/fdb"
	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/port"
)

const (
	// MaxWorkers bounds the worker goroutines (one per receive queue).
	MaxWorkers = 16
	// ControlTxQueue is the transmit queue index the control side (the
	// neighbour manager's solicitations) uses on every port; workers use
	// their id. Ports are opened with TxQueues queues.
	ControlTxQueue = MaxWorkers
	// TxQueues is how many transmit queues a port needs.
	TxQueues = MaxWorkers + 1
	// MaxDevices bounds device indices (1..MaxDevices-1), so per-device
	// state on the packet path can be flat arrays.
	MaxDevices = 1024
)

// Device is the packet path's view of one device. It is immutable once
// published in a Snapshot; the control plane builds a new one to change it.
type Device struct {
	Index    uint32
	Name     string
	Kind     string
	MAC      hdr.MAC
	MTU      uint32
	Up       bool // administratively up
	Loopback bool
	// Port carries frames; nil for devices without a medium (dummy,
	// loopback): transmit to them counts and discards like the kernel's.
	Port port.Port
	// TxGSO: the port takes GSO super-frames and partial checksums.
	TxGSO bool
	// TxUSO: the port takes UDP segmentation (USO) super-frames too.
	TxUSO bool
	// TxUDPTunnelGSO: the port takes a TCP super-frame inside one tunnel
	// datagram and lets the kernel cut it (tunnelSendTunnelGSO).
	TxUDPTunnelGSO bool
	// Addr4 and Addr6 are the device's addresses, primary first.
	Addr4, Addr6 []netip.Prefix
	// Tunnel is set for a flow-based or classic UDP tunnel device
	// (VXLAN, Geneve); such a device has no port: transmitting on it
	// encapsulates and routes the outer packet.
	Tunnel *TunnelDev
	// VLAN is set for an 802.1Q / 802.1ad sub-interface: it has no port
	// of its own; its frames are tagged and leave through VLAN.Parent.
	VLAN *VLANDev
	// VLANs are the sub-interfaces stacked on this device, by
	// VLANKey(tpid, vid); nil when there are none.
	VLANs map[uint32]*Device

	tx [TxQueues]port.TxQueue
}

// bind caches the port's transmit queues so the packet path does not call
// through the interface to find them.
func (d *Device) bind() {
	if d.Port == nil {
		// A tunnel device takes super-frames and partial checksums:
		// tunnelSend encapsulates them whole (tunnelSendUSO) or
		// segment by segment, and completes checksums.
		if d.Tunnel != nil {
			d.TxGSO = true
		}
		return
	}
	n := d.Port.NumTx()
	for i := range d.tx {
		if i < n {
			d.tx[i] = d.Port.TxQueue(i)
		}
	}
	off := d.Port.Offloads()
	d.TxGSO, d.TxUSO = off.TxGSO, off.TxGSO && off.TxUSO
	d.TxUDPTunnelGSO = off.TxGSO && off.TxUDPTunnelGSO
}

// maxVLANStack bounds the walk down a stack of VLAN devices; the control
// plane refuses stacks deeper than the kernel's MAX_NEST_DEV (8).
const maxVLANStack = 16

// bindStacked gives a VLAN device the offloads of the device at the bottom
// of its stack (a port or a tunnel), which is what carries its frames.
func (d *Device) bindStacked() {
	if d.VLAN == nil {
		return
	}
	below := d.VLAN.Parent
	for n := 0; below.VLAN != nil && n < maxVLANStack; n++ {
		below = below.VLAN.Parent
	}
	// Not UDP-tunnel GSO: the kernel would have to find the tunnel
	// offsets behind the tag, which no test has shown it does.
	d.TxGSO, d.TxUSO = below.TxGSO, below.TxUSO
}

// PrimaryAddr returns the device's first address of dst's family, preferring
// one whose prefix contains dst, and for IPv6 a link-local one when dst is
// link-local. The zero Addr if it has none.
func (d *Device) PrimaryAddr(dst netip.Addr) netip.Addr {
	list := d.Addr4
	if dst.Is6() {
		list = d.Addr6
	}
	var first netip.Addr
	for _, p := range list {
		a := p.Addr()
		if dst.Is6() && a.IsLinkLocalUnicast() != dst.IsLinkLocalUnicast() {
			continue
		}
		if p.Contains(dst) {
			return a
		}
		if !first.IsValid() {
			first = a
		}
	}
	return first
}

// VLANDev is a VLAN sub-interface's configuration (the kernel's
// vlan_dev_priv, as far as flowpath implements it: tagging always in the
// frame, REORDER_HDR on).
type VLANDev struct {
	Parent *Device // the device below, in the same snapshot
	VID    uint16
	TPID   uint16 // hdr.EtherTypeVLAN (802.1Q) or hdr.EtherTypeQinQ (802.1ad)
}

// VLANKey is the key of Device.VLANs.
func VLANKey(tpid, vid uint16) uint32 { return uint32(tpid)<<16 | uint32(vid) }

// TunnelKind is the encapsulation of a tunnel device.
type TunnelKind uint8

const (
	TunnelVXLAN TunnelKind = iota + 1
	TunnelGeneve
)

// TunnelDev is a tunnel device's configuration (the kernel's vxlan_config
// and geneve_config, as far as flowpath implements them).
type TunnelDev struct {
	Kind     TunnelKind
	External bool   // collect_metadata: any VNI in, VNI and endpoint from TX metadata out
	VNI      uint32 // classic devices
	Remote   netip.Addr
	Local    netip.Addr
	Lower    uint32 // underlay device index (0: routed freely)
	DstPort  uint16
	SrcMin   uint16 // [SrcMin, SrcMax); SrcMin >= SrcMax: ip_local_port_range
	SrcMax   uint16
	TTL      uint8 // 0: auto (64, or 1 to a multicast group)
	TTLInh   bool  // ttl inherit
	TOS      uint8 // 1: inherit the inner DSCP
	Learning bool
	UDPCsum  bool
	GBP      bool
	Bypass   bool // localbypass
	Label    uint32
	// FDB is the classic VXLAN device's forwarding database.
	FDB *fdb.Table
}

// udpTunnels demultiplexes UDP tunnel traffic to local addresses: by
// destination port, then by VNI, or to the port's external device.
type udpTunnels struct {
	kind     TunnelKind
	byVNI    map[uint32]*Device
	external *Device
}

// Snapshot is one immutable version of the configuration the packet path
// reads: devices by index and the FIB.
type Snapshot struct {
	Gen     uint64
	Devices []*Device // by index; nil where no device
	FIB     *fib.FIB
	// HashL4 selects L4 (5-tuple) multipath hashing, else L3 (the kernel's
	// fib_multipath_hash_policy 1 and 0).
	HashL4 bool

	// MPLSNoTTLPropagate is net.mpls.ip_ttl_propagate = 0 (the zero
	// value is the kernel's default, 1): MPLS encaps without a ttl of
	// their own push MPLSDefaultTTL, and popping to IP keeps the IP TTL
	// (decremented) instead of taking the label's.
	MPLSNoTTLPropagate bool
	// MPLSDefaultTTL is net.mpls.default_ttl (0 here means 255).
	MPLSDefaultTTL uint8

	// MPLS holds the label routes by incoming label (nil: MPLS input
	// disabled, labelled packets are dropped).
	MPLS map[uint32]*LabelRoute

	// tunnels is built by Publish from the devices' Tunnel configs.
	tunnels map[uint16]*udpTunnels
	// local4 is built by Publish: the devices' IPv4 addresses.
	local4 addrSet4
}

// buildTunnels indexes the tunnel devices by UDP port and VNI.
func (s *Snapshot) buildTunnels() {
	s.tunnels = nil
	for _, d := range s.Devices {
		if d == nil || d.Tunnel == nil {
			continue
		}
		if s.tunnels == nil {
			s.tunnels = map[uint16]*udpTunnels{}
		}
		t := d.Tunnel
		u := s.tunnels[t.DstPort]
		if u == nil {
			u = &udpTunnels{kind: t.Kind, byVNI: map[uint32]*Device{}}
			s.tunnels[t.DstPort] = u
		}
		if t.External {
			u.external = d
		} else {
			u.byVNI[t.VNI] = d
		}
	}
}

// Device returns the device with index i, or nil.
func (s *Snapshot) Device(i uint32) *Device {
	if int(i) < len(s.Devices) {
		return s.Devices[i]
	}
	return nil
}

// DeviceByName returns the named device, or nil (control side; linear).
func (s *Snapshot) DeviceByName(name string) *Device {
	for _, d := range s.Devices {
		if d != nil && d.Name == name {
			return d
		}
	}
	return nil
}
