package dataplane

import (
	"net/netip"

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
	// Addr4 and Addr6 are the device's addresses, primary first.
	Addr4, Addr6 []netip.Prefix

	tx [TxQueues]port.TxQueue
}

// bind caches the port's transmit queues so the packet path does not call
// through the interface to find them.
func (d *Device) bind() {
	if d.Port == nil {
		return
	}
	n := d.Port.NumTx()
	for i := range d.tx {
		if i < n {
			d.tx[i] = d.Port.TxQueue(i)
		}
	}
	d.TxGSO = d.Port.Offloads().TxGSO
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

// Snapshot is one immutable version of the configuration the packet path
// reads: devices by index and the FIB.
type Snapshot struct {
	Gen     uint64
	Devices []*Device // by index; nil where no device
	FIB     *fib.FIB
	// HashL4 selects L4 (5-tuple) multipath hashing, else L3 (the kernel's
	// fib_multipath_hash_policy 1 and 0).
	HashL4 bool
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
