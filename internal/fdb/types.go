package fdb

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Remote is one destination of an entry (a `struct vxlan_rdst`): where a
// frame for the entry's MAC is sent.
type Remote struct {
	IP      netip.Addr // remote VTEP; the unspecified address is allowed (and dropped on transmit)
	Port    uint16     // UDP destination port; 0 = the device's dstport
	VNI     uint32     // VNI to send with, if HasVNI; else the device's VNI
	HasVNI  bool
	Ifindex uint32 // underlay device to send through ("via"); 0 = any
}

// String formats the remote as `bridge fdb show` does (defaults omitted).
func (r Remote) String() string {
	var b strings.Builder
	b.WriteString("dst ")
	b.WriteString(r.IP.String())
	if r.Port != 0 {
		b.WriteString(" port ")
		b.WriteString(strconv.Itoa(int(r.Port)))
	}
	if r.HasVNI {
		b.WriteString(" vni ")
		b.WriteString(strconv.FormatUint(uint64(r.VNI), 10))
	}
	if r.Ifindex != 0 {
		b.WriteString(" via ")
		b.WriteString(strconv.FormatUint(uint64(r.Ifindex), 10))
	}
	return b.String()
}

// State is an entry's neighbour state; the values are the kernel's NUD_*
// bits, because the FDB rules test bits (a state may carry several).
type State uint8

const (
	// Reachable (NUD_REACHABLE): a dynamic entry. Learned entries have it;
	// `bridge fdb add ... dynamic` too. Aged and migrated.
	Reachable State = 0x02
	// NoARP (NUD_NOARP): what iproute2 calls "static". Never aged or migrated.
	NoARP State = 0x40
	// Permanent (NUD_PERMANENT): `bridge fdb add`'s default. Never aged or
	// migrated. The device's default (all-zero) entry is Permanent|Reachable.
	Permanent State = 0x80
)

// Static reports whether the entry is static: never aged, never migrated by
// learning (a frame that would migrate it is dropped instead).
func (s State) Static() bool { return s&(Permanent|NoARP) != 0 }

// String names the state as iproute2 and the control API do.
func (s State) String() string {
	switch {
	case s&Permanent != 0:
		return "permanent"
	case s&NoARP != 0:
		return "static"
	case s&Reachable != 0:
		return "dynamic"
	}
	return fmt.Sprintf("state=%#x", uint8(s))
}

// Entry is one FDB entry. Dump and Get hand out copies; Add reads MAC, VNI,
// State and the single remote in Remotes.
type Entry struct {
	MAC [6]byte
	// VNI is part of the key in external (collect_metadata) mode, where one
	// device serves many VNIs (NDA_SRC_VNI); always 0 on a classic device.
	VNI     uint32
	Remotes []Remote // in the order they were added; transmit floods to all
	State   State
	Learned bool  // created by learning and not since changed by the user
	Updated int64 // last change or last frame received from the MAC (table clock, ns)
	Used    int64 // last transmit lookup (table clock, ns)
}

// Op is the kind of add, as the netlink flags of RTM_NEWNEIGH select it.
type Op uint8

const (
	// OpAdd (`bridge fdb add`, CREATE|EXCL): a new entry; EEXIST if present.
	OpAdd Op = iota + 1
	// OpAppend (`bridge fdb append`, CREATE|APPEND): on an all-zero or
	// multicast MAC adds one more remote (flooding); on a unicast MAC the
	// append part is ignored (only the state changes, as in the kernel).
	OpAppend
	// OpReplace (`bridge fdb replace`, CREATE|REPLACE): sets the remote of a
	// unicast entry, creating it if needed; EOPNOTSUPP on all-zero or
	// multicast MACs.
	OpReplace
	// OpChange (REPLACE without CREATE; raw netlink only, `bridge` never
	// sends it): like OpReplace, but ENOENT if the entry does not exist.
	OpChange
)

func (o Op) String() string {
	switch o {
	case OpAdd:
		return "add"
	case OpAppend:
		return "append"
	case OpReplace:
		return "replace"
	case OpChange:
		return "change"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Config is the part of a VXLAN device's configuration the FDB depends on.
type Config struct {
	// Ageing: dynamic entries not updated for this long are removed by the
	// collector. 0 means the kernel's default, 300 s (as at device
	// creation); SetAgeing can set 0 later, which ages entries at once.
	Ageing time.Duration
	// MaxAddress is the device's maxaddress: the most entries, the default
	// entry included. 0 = no limit.
	MaxAddress int
	// Learning enables Learn (the device's `learning` flag).
	Learning bool
	// Family (4 or 6; 0 means 4) is the family of the device's default
	// remote (or local address): remotes of the other family are refused.
	Family int
	// External is collect_metadata mode: the VNI is part of every key.
	// Otherwise VNI arguments are ignored and keys use VNI 0.
	External bool
	// VNI and Port are the device's VNI (0 for external devices) and UDP
	// dstport. A remote that names them explicitly is stored as the default
	// (HasVNI false, Port 0), as the kernel stores defaults explicitly: so
	// `del ... port 4789` finds a remote added without a port.
	VNI  uint32
	Port uint16
	// Now returns monotonic nanoseconds. nil: the process's monotonic clock.
	Now func() int64
	// RingSize is each worker's learn-event ring capacity (rounded up to a
	// power of two; default 1024).
	RingSize int
	// PollInterval is how often Run drains the rings (default 1 ms). The
	// collector runs every 10 s regardless (and when an entry expires).
	PollInterval time.Duration
	// Notify, if set, is told about every change the manager makes by
	// itself (learned, migrated, aged: the kernel's RTM_NEWNEIGH /
	// RTM_DELNEIGH notifications). It runs on the Poll goroutine, without
	// the table locked, so it may call the table.
	Notify func(Change)
}

// ChangeKind says what the manager did to an entry.
type ChangeKind uint8

const (
	ChangeLearned  ChangeKind = iota + 1 // created from a received frame
	ChangeMigrated                       // moved to the remote a frame came from
	ChangeAged                           // removed by the collector
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeLearned:
		return "learned"
	case ChangeMigrated:
		return "migrated"
	case ChangeAged:
		return "aged"
	}
	return "change(" + strconv.Itoa(int(k)) + ")"
}

// Change is one notification: the entry as it is after the change (as it
// was, for ChangeAged).
type Change struct {
	Kind  ChangeKind
	Entry Entry
}

// Stats are the table's counters.
type Stats struct {
	Entries  int    // entries now
	Learned  uint64 // entries created by learning
	Migrated uint64 // entries moved to another remote by learning
	Aged     uint64 // entries removed by the collector
	// DroppedStatic counts frames dropped because their source MAC is a
	// static entry pointing at another remote.
	DroppedStatic uint64
	// DroppedInvalidSource counts frames dropped, with learning on, because
	// their source MAC is multicast or all-zero (kernel: MAC_INVALID_SOURCE).
	DroppedInvalidSource uint64
	EventDrops           uint64 // learn events lost to a full ring
	TableFull            uint64 // learned entries refused at MaxAddress
}

const (
	defaultAgeing   = 300 * time.Second
	gcInterval      = int64(10 * time.Second) // FDB_AGE_INTERVAL
	gcMinSpacing    = int64(time.Second)      // see Table.gc
	coarse          = int64(time.Second)      // timestamp resolution on the packet path
	defaultRingSize = 1024
	defaultPoll     = time.Millisecond
	vniMask         = 1<<24 - 1
)

var epoch = time.Now()

func monotonicNow() int64 { return int64(time.Since(epoch)) }

func (c *Config) normalize() {
	if c.Ageing <= 0 {
		c.Ageing = defaultAgeing
	}
	if c.MaxAddress < 0 {
		c.MaxAddress = 0
	}
	if c.Family != 6 {
		c.Family = 4
	}
	c.VNI &= vniMask
	if c.Now == nil {
		c.Now = monotonicNow
	}
	if c.RingSize <= 0 {
		c.RingSize = defaultRingSize
	}
	c.RingSize = int(nextPow2(uint64(c.RingSize)))
	if c.PollInterval <= 0 {
		c.PollInterval = defaultPoll
	}
}

func nextPow2(n uint64) uint64 {
	p := uint64(1)
	for p < n {
		p <<= 1
	}
	return p
}

func isZeroMAC(m [6]byte) bool      { return m == [6]byte{} }
func isMulticastMAC(m [6]byte) bool { return m[0]&1 != 0 }

// floodMAC: the all-zero default entry and multicast MACs may have several
// remotes (append) and cannot be replaced.
func floodMAC(m [6]byte) bool { return isZeroMAC(m) || isMulticastMAC(m) }

func macString(m [6]byte) string {
	const hex = "0123456789abcdef"
	b := make([]byte, 0, 17)
	for i, x := range m {
		if i > 0 {
			b = append(b, ':')
		}
		b = append(b, hex[x>>4], hex[x&15])
	}
	return string(b)
}
