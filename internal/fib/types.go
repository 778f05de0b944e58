package fib

import (
	"flowpath/internal/tunnel"
	"net/netip"
	"slices"
	"strconv"
)

// RouteType is what a route does with a packet (the kernel's RTN_*).
// The zero value is RouteUnicast so that Route{} describes a plain route.
type RouteType uint8

const (
	RouteUnicast     RouteType = iota // forward via a nexthop
	RouteLocal                        // deliver locally (an address of this host)
	RouteBroadcast                    // deliver locally as broadcast
	RouteBlackhole                    // drop silently
	RouteUnreachable                  // drop, ICMP host unreachable (EHOSTUNREACH)
	RouteProhibit                     // drop, ICMP administratively prohibited (EACCES)
	RouteThrow                        // end the lookup in this table; continue with the next rule
	numRouteTypes
)

var routeTypeNames = [numRouteTypes]string{"unicast", "local", "broadcast", "blackhole", "unreachable", "prohibit", "throw"}

// String returns the iproute2 keyword.
func (t RouteType) String() string {
	if t < numRouteTypes {
		return routeTypeNames[t]
	}
	return "type" + strconv.Itoa(int(t))
}

// ParseRouteType is the inverse of String.
func ParseRouteType(s string) (RouteType, bool) {
	for i, n := range routeTypeNames {
		if n == s {
			return RouteType(i), true
		}
	}
	return 0, false
}

// hasNexthops says whether routes of this type carry nexthops (they forward
// or deliver through a device) or not (they reject, drop or throw).
func (t RouteType) hasNexthops() bool { return t <= RouteBroadcast }

// minScope is the narrowest scope a route of this type may have (the
// kernel's fib_props[type].scope): a local route is at least host scope.
func (t RouteType) minScope() Scope {
	switch t {
	case RouteLocal:
		return ScopeHost
	case RouteBroadcast:
		return ScopeLink
	}
	return ScopeUniverse
}

// DefaultScope is the scope iproute2 gives a route when none is named:
// host for local routes, link for broadcast routes and for unicast routes
// with a single nexthop and no gateway (directly connected), universe
// otherwise. AddRoute itself takes the scope as given and validates it
// like the kernel (an IPv4 local route of universe scope is EINVAL).
func DefaultScope(r *Route) Scope {
	switch r.Type {
	case RouteLocal:
		return ScopeHost
	case RouteBroadcast:
		return ScopeLink
	case RouteUnicast:
		if len(r.Nexthops) == 1 && !r.Nexthops[0].Gateway.IsValid() {
			return ScopeLink
		}
	}
	return ScopeUniverse
}

// Scope is how far a route's destination is (the kernel's RT_SCOPE_*).
type Scope uint8

const (
	ScopeUniverse Scope = 0
	ScopeSite     Scope = 200
	ScopeLink     Scope = 253
	ScopeHost     Scope = 254
	ScopeNowhere  Scope = 255
)

// String returns the iproute2 keyword ("global" for universe) or the number.
func (s Scope) String() string {
	switch s {
	case ScopeUniverse:
		return "global"
	case ScopeSite:
		return "site"
	case ScopeLink:
		return "link"
	case ScopeHost:
		return "host"
	case ScopeNowhere:
		return "nowhere"
	}
	return strconv.Itoa(int(s))
}

// Protocol records who installed a route (the kernel's RTPROT_*).
type Protocol uint8

const (
	ProtoUnspec   Protocol = 0
	ProtoRedirect Protocol = 1
	ProtoKernel   Protocol = 2
	ProtoBoot     Protocol = 3
	ProtoStatic   Protocol = 4
	ProtoDHCP     Protocol = 16
	ProtoBGP      Protocol = 186
	ProtoOSPF     Protocol = 188
)

// String returns the iproute2 name or the number.
func (p Protocol) String() string {
	switch p {
	case ProtoUnspec:
		return "unspec"
	case ProtoRedirect:
		return "redirect"
	case ProtoKernel:
		return "kernel"
	case ProtoBoot:
		return "boot"
	case ProtoStatic:
		return "static"
	case ProtoDHCP:
		return "dhcp"
	case ProtoBGP:
		return "bgp"
	case ProtoOSPF:
		return "ospf"
	}
	return strconv.Itoa(int(p))
}

// Reserved table ids (iproute2's rt_tables).
const (
	TableUnspec  uint32 = 0
	TableDefault uint32 = 253
	TableMain    uint32 = 254
	TableLocal   uint32 = 255
)

// NHFlags are per-nexthop flags (the kernel's RTNH_F_*).
type NHFlags uint8

const (
	// NHOnLink: the gateway is on the link even if no route says so
	// (`onlink`). Given by the user; kept.
	NHOnLink NHFlags = 1 << iota
	// NHDead and NHLinkDown: Routes reports them for a nexthop whose
	// device is down (SetDeviceUp); they are stored only on the IPv4
	// legs through a device that lost its last IPv4 address
	// (DisableIPv4), until EnableIPv4. AddRoute rejects them, as the
	// kernel does, and route identity ignores them.
	NHDead
	NHLinkDown
)

// nhDeadFlags are the flags route identity does not see.
const nhDeadFlags = NHDead | NHLinkDown

// Nexthop is one path of a route.
type Nexthop struct {
	Gateway netip.Addr // invalid = directly connected (no gateway)
	Dev     uint32     // output device index; required for unicast/local/broadcast
	Weight  uint16     // 1..256 for multipath; AddRoute stores 0 as 1
	Flags   NHFlags
	// Encap is the nexthop's lightweight-tunnel state (encap ip|ip6|mpls),
	// nil for none. Shared and immutable.
	Encap *tunnel.Encap

	// upper is the hash-threshold bound of this nexthop when every
	// nexthop of the route is alive (the kernel's fib_nh_upper_bound):
	// computed by AddRoute, read by Lookup.
	upper int32
}

// Route is one route: the kernel's fib_alias + fib_info. Several routes
// can share a (table, prefix) when their metrics differ (or with append).
type Route struct {
	Table    uint32
	Prefix   netip.Prefix // masked
	Type     RouteType
	Scope    Scope
	Protocol Protocol
	Metric   uint32 // the kernel's priority: lower wins
	PrefSrc  netip.Addr
	MTU      uint32 // route mtu metric; 0 = none
	MTULock  bool
	Nexthops []Nexthop // 1 for a plain route, >1 for ECMP, 0 for reject types and throw
}

// RuleAction is what a matching rule does (the kernel's FR_ACT_*).
// The zero value is RuleToTable, the usual `lookup TABLE`.
type RuleAction uint8

const (
	RuleToTable     RuleAction = iota // look the flow up in Table
	RuleGoto                          // jump to the first rule whose priority is Goto
	RuleNop                           // do nothing, continue with the next rule
	RuleBlackhole                     // drop silently
	RuleUnreachable                   // drop, network unreachable (ENETUNREACH)
	RuleProhibit                      // drop, prohibited (EACCES)
	numRuleActions
)

var ruleActionNames = [numRuleActions]string{"lookup", "goto", "nop", "blackhole", "unreachable", "prohibit"}

// String returns the iproute2 keyword.
func (a RuleAction) String() string {
	if a < numRuleActions {
		return ruleActionNames[a]
	}
	return "action" + strconv.Itoa(int(a))
}

// Rule is a policy routing rule (ip rule). A zero-valued selector matches
// anything.
type Rule struct {
	Priority uint32
	// AutoPriority asks AddRule to pick the priority the way the kernel
	// does when none is given (see AddRule). Never set in stored rules.
	AutoPriority bool
	Family       int          // 4 or 6
	Src, Dst     netip.Prefix // zero value (or /0) = any
	// IIF and OIF are device names as given: the kernel keeps names so a
	// rule survives its device being deleted and re-created. IIFIndex and
	// OIFIndex are the resolved indices (SetRuleDevice); with a name set
	// and index 0 (device absent) the selector never matches.
	//
	// IIF "lo" matches locally generated flows (Flow.IIF == 0), because
	// the kernel gives output lookups iif = loopback; it also matches
	// IIFIndex when that is set (packets looped back through a lo device).
	IIF, OIF           string
	IIFIndex, OIFIndex uint32
	FwMark, FwMask     uint32 // match (mark ^ FwMark) & FwMask == 0; AddRule sets FwMask to all ones if FwMark != 0 and FwMask == 0
	TunID              uint64 // 0 = any
	IPProto            uint8  // 0 = any
	SrcPorts, DstPorts [2]uint16
	Invert             bool // "not": invert the selector match
	Action             RuleAction
	Table              uint32 // for RuleToTable
	Goto               uint32 // target priority for RuleGoto; must be greater than Priority
	// Suppress, with SuppressPrefixLen, rejects a lookup result whose
	// prefix is not longer than SuppressPrefixLen and continues with the
	// next rule (`suppress_prefixlength N`, used by wg-quick).
	Suppress          bool
	SuppressPrefixLen uint8
}

// Flow is what a lookup is keyed by (the kernel's flowi).
type Flow struct {
	Dst, Src         netip.Addr
	IIF, OIF         uint32 // IIF 0 = locally generated; OIF != 0 restricts nexthops to that device
	Mark             uint32
	TunID            uint64
	Proto            uint8
	SrcPort, DstPort uint16
}

// Result of a lookup. Pointers point into the immutable snapshot; they stay
// valid (and unchanged) for as long as the caller holds them.
type Result struct {
	Type  RouteType
	Table uint32 // table the route was found in; 0 for a rule action
	// Rule is the rule that decided: the one whose table had the route,
	// or whose action (blackhole/unreachable/prohibit) ended the lookup.
	// nil when LookupTable was used.
	Rule *Rule
	// Route is nil when a rule action decided: that is how a caller tells
	// the rule's unreachable (ENETUNREACH) from a route's (EHOSTUNREACH).
	Route   *Route
	Nexthop *Nexthop // chosen nexthop; nil for types without nexthops
	NHIndex int      // index of Nexthop in Route.Nexthops; -1 if none
}

// AddFlags are the netlink NLM_F_* flags of a route add, which is how
// `ip route add|replace|append|prepend|change` differ.
type AddFlags uint8

const (
	Create  AddFlags = 1 << iota // create if absent
	Excl                         // fail with EEXIST if a route with the same table/prefix/metric exists
	Replace                      // replace the first route with the same table/prefix/metric
	Append                       // add after the routes with the same metric (IPv6: join them as a multipath leg)

	FlagsAdd     = Create | Excl    // ip route add
	FlagsReplace = Create | Replace // ip route replace
	FlagsAppend  = Create | Append  // ip route append
	FlagsPrepend = Create           // ip route prepend
	FlagsChange  = Replace          // ip route change
)

// RouteMatch selects a route to delete. Table and Prefix are always
// compared (table 0 means main, as in the kernel); every other field only
// when given. IPv6, like the kernel's ip6_route_del, compares only the
// metric, protocol, device and gateway.
type RouteMatch struct {
	Table  uint32
	Prefix netip.Prefix

	Type     RouteType
	SetType  bool
	Scope    Scope
	SetScope bool
	Metric   uint32 // 0 = any (the kernel cannot tell "metric 0" from none)
	Protocol Protocol
	SetProto bool
	PrefSrc  netip.Addr // invalid = any

	// Dev and Gateway are compared with the route's first nexthop (IPv4)
	// or with any leg (IPv6, whose multipath legs are separate routes in
	// the kernel). An IPv6 delete that names a gateway removes just that
	// leg.
	Dev     uint32     // 0 = any
	Gateway netip.Addr // invalid = any
	// Encap, if set, must equal the route's first nexthop's encap, but
	// only when Dev or Gateway is given too (fib_nh_match): a delete
	// without a device or gateway matches any encap.
	Encap *tunnel.Encap
	// Nexthops, if not empty, must match the route's nexthops leg by leg
	// (Dev 0 and invalid Gateway match anything), as `ip route del ...
	// nexthop ... nexthop ...`. IPv6 deletes each leg separately.
	Nexthops []Nexthop
}

// RuleMatch selects a rule to delete (the kernel's rule_find): every field
// given must match; unset fields match anything. The first match is deleted.
type RuleMatch struct {
	Family      int
	Priority    uint32
	SetPriority bool
	Src, Dst    netip.Prefix // zero value (or /0) = any
	IIF, OIF    string       // "" = any
	FwMark      uint32
	SetFwMark   bool
	FwMask      uint32
	SetFwMask   bool
	TunID       uint64 // 0 = any
	IPProto     uint8  // 0 = any
	Action      RuleAction
	SetAction   bool
	Table       uint32 // 0 = any
}

// usesDev reports whether a nexthop of r goes through dev.
func (r *Route) usesDev(dev uint32) bool {
	return slices.ContainsFunc(r.Nexthops, func(nh Nexthop) bool { return nh.Dev == dev })
}
