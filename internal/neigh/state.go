package neigh

import (
	"fmt"
	"net/netip"
	"strings"

	"flowpath/internal/errs"
)

// State is a neighbour's NUD state. The bit values are the kernel's
// (include/uapi/linux/neighbour.h), so they can be carried as-is in the API
// and compared with `ip neigh` output.
type State uint16

// NUD states.
const (
	None       State = 0x00 // NUD_NONE: created, nothing known yet
	Incomplete State = 0x01 // resolving: broadcast/multicast solicitations
	Reachable  State = 0x02 // confirmed within reachable_time
	Stale      State = 0x04 // usable, unconfirmed; first use starts DELAY
	Delay      State = 0x08 // used while stale; waits for upper-layer/peer confirmation
	Probe      State = 0x10 // unicast solicitations to the cached address
	Failed     State = 0x20 // resolution failed
	NoARP      State = 0x40 // static, never resolved or verified
	Permanent  State = 0x80 // static, set by the administrator
)

// State classes, as the kernel groups them.
const (
	validStates     = Reachable | Stale | Delay | Probe | NoARP | Permanent // NUD_VALID
	connectedStates = Permanent | NoARP | Reachable                         // NUD_CONNECTED
	inTimerStates   = Incomplete | Reachable | Delay | Probe                // NUD_IN_TIMER
	staticStates    = Permanent | NoARP                                     // never changed by protocol traffic
)

// Valid reports whether an entry in this state has a usable link-layer
// address (the kernel's NUD_VALID).
func (s State) Valid() bool { return s&validStates != 0 }

var stateNames = [...]struct {
	s    State
	name string
}{
	{Incomplete, "INCOMPLETE"}, {Reachable, "REACHABLE"}, {Stale, "STALE"},
	{Delay, "DELAY"}, {Probe, "PROBE"}, {Failed, "FAILED"},
	{NoARP, "NOARP"}, {Permanent, "PERMANENT"},
}

// String names the state the way iproute2 prints it: one word per set bit,
// "NONE" for zero.
func (s State) String() string {
	if s == None {
		return "NONE"
	}
	for _, n := range stateNames {
		if s == n.s {
			return n.name
		}
	}
	var parts []string
	rest := s
	for _, n := range stateNames {
		if s&n.s != 0 {
			parts = append(parts, n.name)
			rest &^= n.s
		}
	}
	if rest != 0 {
		parts = append(parts, fmt.Sprintf("0x%x", uint16(rest)))
	}
	return strings.Join(parts, " ")
}

// ParseState parses an iproute2 `nud` argument ("permanent", "noarp",
// "reachable", "stale", "none", "incomplete", "delay", "probe", "failed"),
// case-insensitively.
func ParseState(s string) (State, error) {
	if strings.EqualFold(s, "none") {
		return None, nil
	}
	for _, n := range stateNames {
		if strings.EqualFold(s, n.name) {
			return n.s, nil
		}
	}
	return 0, fmt.Errorf("nud state %q: %w", s, errs.ErrInvalid)
}

// ConfirmFlags describe a received ARP or NDP message that carried a
// neighbour's link-layer address. The dataplane parses the frame; the table
// applies the kernel's update rules.
type ConfirmFlags uint8

const (
	// Solicited: an ARP reply unicast to us (PACKET_HOST), or a Neighbour
	// Advertisement with the S flag. Asserts reachability (REACHABLE).
	// Broadcast ARP replies and unsolicited NAs only make an entry STALE.
	Solicited ConfirmFlags = 1 << iota
	// Override: NDP's O flag. For ARP the dataplane sets it for gratuitous
	// ARP; otherwise an ARP message may replace a cached address only once
	// Config.Locktime has passed since the entry last changed.
	Override
	// Router: NDP's R flag (IPv6 only).
	Router
	// IsRequest: an ARP request for one of our addresses, or a Neighbour
	// Solicitation with a source link-layer address option. Creates the
	// entry if needed and makes it STALE with the sender's address
	// (arp_process / ndisc_recv_ns: neigh_event_ns).
	IsRequest
	// NoLLAddr: the message carried no link-layer address (an NA without
	// the target link-layer option, as Linux answers unicast NUD probes);
	// the cached address is kept, and nothing happens to an entry without one.
	NoLLAddr
)

// AddFlags select the netlink semantics of Table.Add: NLM_F_CREATE,
// NLM_F_EXCL and NLM_F_REPLACE, plus whether a link-layer address was given.
type AddFlags uint8

const (
	AddCreate   AddFlags = 1 << iota // create the entry if it does not exist
	AddExcl                          // fail with EEXIST if it exists
	AddReplace                       // override the existing address and router flag
	AddNoLLAddr                      // no lladdr given: keep the entry's own
)

// The three iproute2 commands.
const (
	CmdAdd     = AddCreate | AddExcl    // ip neigh add
	CmdReplace = AddCreate | AddReplace // ip neigh replace
	CmdChange  = AddReplace             // ip neigh change
)

// Key identifies a neighbour: an address on a device.
type Key struct {
	Dev  uint32
	Addr netip.Addr
}

// Entry is a copy of one neighbour, for show/dump and for Add.
// Times are monotonic nanoseconds on the table's clock (Config.Now).
type Entry struct {
	Dev       uint32
	Addr      netip.Addr
	MAC       [6]byte
	State     State
	Router    bool
	Updated   int64 // last change of state or address
	Used      int64 // last use the table learned of (Miss, UsedStale)
	Confirmed int64 // last proof of reachability
	Probes    int   // solicitations sent in the current INCOMPLETE/PROBE round (kernel counting)
}

// Key returns the entry's key.
func (e *Entry) Key() Key { return Key{e.Dev, e.Addr} }

// String formats the entry like `ip neigh show` (device as its index).
func (e Entry) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s dev %d", e.Addr, e.Dev)
	if e.State.Valid() {
		m := e.MAC
		fmt.Fprintf(&b, " lladdr %02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5])
	}
	if e.Router {
		b.WriteString(" router")
	}
	b.WriteString(" ")
	b.WriteString(e.State.String())
	return b.String()
}
