package api

// Version of the protocol; a server rejects other versions with EINVAL.
const Version = 1

// DefaultSocket is where flowpathd listens unless told otherwise.
const DefaultSocket = "/run/flowpath/flowpathd.sock"

// Operations.
const (
	OpLinkAdd  = "link.add"
	OpLinkSet  = "link.set"
	OpLinkDel  = "link.del"
	OpLinkShow = "link.show"

	OpAddrAdd   = "addr.add"
	OpAddrDel   = "addr.del"
	OpAddrShow  = "addr.show"
	OpAddrFlush = "addr.flush"

	OpRouteAdd     = "route.add"
	OpRouteReplace = "route.replace"
	OpRouteAppend  = "route.append"
	OpRoutePrepend = "route.prepend" // ip route prepend: create, first among equals
	OpRouteChange  = "route.change"  // ip route change: replace, never create
	OpRouteDel     = "route.del"
	OpRouteShow    = "route.show"
	OpRouteFlush   = "route.flush"
	OpRouteGet     = "route.get"

	OpRuleAdd  = "rule.add"
	OpRuleDel  = "rule.del"
	OpRuleShow = "rule.show"

	OpNeighAdd     = "neigh.add"
	OpNeighReplace = "neigh.replace"
	OpNeighChange  = "neigh.change"
	OpNeighDel     = "neigh.del"
	OpNeighShow    = "neigh.show"
	OpNeighFlush   = "neigh.flush"

	OpFDBAdd     = "fdb.add"
	OpFDBAppend  = "fdb.append"
	OpFDBReplace = "fdb.replace"
	OpFDBDel     = "fdb.del"
	OpFDBShow    = "fdb.show"

	OpStats = "stats"

	// OpSysctlSet sets and OpSysctlShow reads the daemon's kernel-like
	// tunables (Request.Sysctl, Response.Sysctls), as sysctl -w / sysctl.
	OpSysctlSet  = "sysctl.set"
	OpSysctlShow = "sysctl.show"
)

// FamilyMPLS is the address family of MPLS label routes (AF_MPLS), as in
// `ip -f mpls route`.
const FamilyMPLS = 28

// Tables with names (iproute2's rt_tables).
const (
	TableDefault = 253
	TableMain    = 254
	TableLocal   = 255
	// TableAll in a Filter selects every table ("table all").
	TableAll = 0xFFFFFFFF
)

// Request is one control operation.
type Request struct {
	Version  int       `json:"version"`
	Op       string    `json:"op"`
	Link     *Link     `json:"link,omitempty"`
	Addr     *Addr     `json:"addr,omitempty"`
	Route    *Route    `json:"route,omitempty"`
	RouteGet *RouteGet `json:"route_get,omitempty"`
	Rule     *Rule     `json:"rule,omitempty"`
	Neigh    *Neigh    `json:"neigh,omitempty"`
	FDB      *FDB      `json:"fdb,omitempty"`
	Filter   *Filter   `json:"filter,omitempty"`
	Sysctl   *Sysctl   `json:"sysctl,omitempty"`
}

// Sysctl is one tunable, named as the kernel's (net.mpls.default_ttl),
// with its value in decimal. In sysctl.show an empty Name lists them all.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// Response is the answer to one Request. Error is empty on success.
type Response struct {
	Error    string          `json:"error,omitempty"` // human text, e.g. "route 10.0.0.0/8 table 254 metric 0: file exists"
	Code     string          `json:"code,omitempty"`  // errno name of the sentinel ("EEXIST"), "" if none
	Links    []Link          `json:"links,omitempty"`
	Addrs    []Addr          `json:"addrs,omitempty"`
	Routes   []Route         `json:"routes,omitempty"`
	Rules    []Rule          `json:"rules,omitempty"`
	Neighs   []Neigh         `json:"neighs,omitempty"`
	FDBs     []FDB           `json:"fdbs,omitempty"`
	RouteGet *RouteGetResult `json:"route_get,omitempty"`
	Stats    *Stats          `json:"stats,omitempty"`
	Sysctls  []Sysctl        `json:"sysctls,omitempty"`
}

// Filter narrows a show, flush or del-all.
type Filter struct {
	Dev    string `json:"dev,omitempty"`
	Family int    `json:"family,omitempty"` // 4, 6, 0 = both
	Table  uint32 `json:"table,omitempty"`  // 0 = main (routes); TableAll = all
	Prefix string `json:"prefix,omitempty"` // route show PREFIX (exact), addr show to PREFIX
	Type   string `json:"type,omitempty"`   // route show type blackhole
	State  string `json:"state,omitempty"`  // neigh show nud STATE
}

// Link is a device. In link.add, Kind and its arguments; in link.set, the
// fields to change (nil/zero = unchanged); in show, everything.
type Link struct {
	Name  string `json:"name"`
	Index uint32 `json:"index,omitempty"`
	// Kind: "afpacket", "tap", "dummy", "loopback" (and "mem", "pcap" for tests).
	Kind string `json:"kind,omitempty"`
	// IfName is the kernel interface an afpacket or tap link attaches to.
	IfName string `json:"ifname,omitempty"`
	// Queues is the number of receive queues (workers) for the port; 0 = 1.
	Queues int    `json:"queues,omitempty"`
	MAC    string `json:"address,omitempty"`
	MTU    int    `json:"mtu,omitempty"`
	// Up: in link.set, nil = unchanged; in show, the admin state.
	Up *bool `json:"up,omitempty"`
	// NewName renames the link (link.set; the link must be down).
	NewName string `json:"new_name,omitempty"`
	// OperState in show: "UP", "DOWN", "UNKNOWN".
	OperState string `json:"operstate,omitempty"`
	// Flags in show, like iproute2: BROADCAST, MULTICAST, UP, LOWER_UP, LOOPBACK.
	Flags []string `json:"flags,omitempty"`
	// Stats in show (always filled; fpctl prints them with -s).
	Stats *LinkStats `json:"stats,omitempty"`
	// Offloads in show: what the link's port takes and gives beyond
	// plain frames, by ethtool's feature names where there is one:
	// "rx-gso" (super-frames received), "tx-tcp-segmentation",
	// "tx-udp-segmentation", "tx-udp_tnl-segmentation".
	Offloads []string `json:"offloads,omitempty"`
	// VXLAN and Geneve carry the tunnel device's configuration (add and
	// show) for Kind "vxlan" and "geneve".
	VXLAN  *VXLAN  `json:"vxlan,omitempty"`
	Geneve *Geneve `json:"geneve,omitempty"`
	// Link is the device a stacked device (Kind "vlan") sits on, like
	// iproute2's "link DEV" (IFLA_LINK).
	Link string `json:"link,omitempty"`
	// VLAN configures an 802.1Q / 802.1ad sub-interface (Kind "vlan").
	VLAN *VLAN `json:"vlan,omitempty"`
}

// VLAN configures a VLAN device (ip link add link DEV NAME type vlan id N).
type VLAN struct {
	ID uint16 `json:"id"`
	// Protocol is "802.1Q" (the default when empty) or "802.1ad".
	Protocol string `json:"protocol,omitempty"`
}

// VXLAN configures a VXLAN device (ip link add NAME type vxlan ...).
// Either VNI (classic) or External (flow-based, collect_metadata) is given.
type VXLAN struct {
	VNI      uint32 `json:"id"`
	External bool   `json:"external,omitempty"`
	Remote   string `json:"remote,omitempty"` // default unicast remote (all-zero FDB entry)
	Group    string `json:"group,omitempty"`  // multicast group (needs Dev)
	Local    string `json:"local,omitempty"`
	Dev      string `json:"dev,omitempty"` // underlay link
	// DstPort is the UDP port; 0 with SetDstPort false means the kernel's
	// default 8472 (iproute2 warns about it), 0 with SetDstPort true too.
	DstPort    uint16 `json:"dstport,omitempty"`
	SetDstPort bool   `json:"set_dstport,omitempty"`
	SrcPortMin uint16 `json:"srcport_min,omitempty"` // [min, max); both 0 = ip_local_port_range
	SrcPortMax uint16 `json:"srcport_max,omitempty"`
	TTL        uint8  `json:"ttl,omitempty"` // 0 = auto (route hop limit; 1 for multicast)
	TTLInherit bool   `json:"ttl_inherit,omitempty"`
	TOS        uint8  `json:"tos,omitempty"` // 1 = inherit
	// Learning: nil = default (on for classic, off for external).
	Learning *bool `json:"learning,omitempty"`
	// UDPCsum: nil = on, the 6.x kernel's default for IPv4 (it zeroes the
	// checksum only when told noudpcsum).
	UDPCsum    *bool  `json:"udpcsum,omitempty"`
	GBP        bool   `json:"gbp,omitempty"`
	Ageing     uint32 `json:"ageing,omitempty"`     // seconds; 0 = 300
	MaxAddress uint32 `json:"maxaddress,omitempty"` // FDB limit; 0 = none
	// LocalBypass: nil = default (on).
	LocalBypass *bool `json:"localbypass,omitempty"`
}

// Geneve configures a Geneve device (ip link add NAME type geneve ...).
type Geneve struct {
	VNI        uint32 `json:"id"`
	External   bool   `json:"external,omitempty"`
	Remote     string `json:"remote,omitempty"`
	DstPort    uint16 `json:"dstport,omitempty"` // 0 = 6081
	TTL        uint8  `json:"ttl,omitempty"`
	TTLInherit bool   `json:"ttl_inherit,omitempty"`
	TOS        uint8  `json:"tos,omitempty"`
	UDPCsum    bool   `json:"udpcsum,omitempty"`
	Label      uint32 `json:"label,omitempty"` // IPv6 flow label
}

// FDB is a VXLAN forwarding database entry (bridge fdb ... dev VXLAN).
type FDB struct {
	MAC    string `json:"mac"`
	Dev    string `json:"dev"`
	Dst    string `json:"dst,omitempty"`
	Port   uint16 `json:"port,omitempty"` // 0 = the device's dstport
	VNI    uint32 `json:"vni,omitempty"`
	SetVNI bool   `json:"set_vni,omitempty"`
	Via    string `json:"via,omitempty"` // outgoing underlay link
	// State: "permanent" (bridge fdb add's default), "static" (same),
	// "dynamic" (learned or added as such).
	State string `json:"state,omitempty"`
	// Learned marks entries the data plane learned (show only).
	Learned bool `json:"learned,omitempty"`
}

// Encap is a route's encapsulation (ip route ... encap TYPE ...): "ip"
// and "ip6" carry tunnel metadata for a flow-based tunnel device to read;
// "mpls" pushes a label stack.
type Encap struct {
	Type string `json:"type"`
	ID   uint64 `json:"id,omitempty"`
	Dst  string `json:"dst,omitempty"`
	Src  string `json:"src,omitempty"`
	TTL  uint8  `json:"ttl,omitempty"` // ip: ttl; ip6: hoplimit; mpls: the pushed TTL (0 = propagate)
	// SetTTL: mpls only, a ttl was given. "ttl 0" then forces TTL
	// propagation whatever net.mpls.ip_ttl_propagate says; without a ttl
	// the sysctl decides (MPLS_IPTUNNEL_TTL absent).
	SetTTL bool     `json:"set_ttl,omitempty"`
	TOS    uint8    `json:"tos,omitempty"`   // ip: tos; ip6: tc
	Flags  []string `json:"flags,omitempty"` // "key", "csum", "seq"
	// GeneveOpts: "CLASS:TYPE:DATA[,CLASS:TYPE:DATA...]" in hex, as iproute2.
	GeneveOpts string `json:"geneve_opts,omitempty"`
	// VXLANOpts is the GBP word (vxlan_opts GBP).
	VXLANOpts    uint32 `json:"vxlan_opts,omitempty"`
	SetVXLANOpts bool   `json:"set_vxlan_opts,omitempty"`
	// Labels for mpls, outermost first.
	Labels []uint32 `json:"labels,omitempty"`
	// LSEs is the mpls stack as raw label stack entries instead (netlink's
	// MPLS_IPTUNNEL_DST words, as numbers): label<<12, the S bit (0x100)
	// on the last entry only, TC and TTL zero, or the route is refused
	// (EINVAL) as the kernel refuses it. Shown as Labels.
	LSEs []uint32 `json:"lse,omitempty"`
}

// LinkStats are one device's counters.
type LinkStats struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	RxDropped uint64 `json:"rx_dropped"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	TxDropped uint64 `json:"tx_dropped"`
	// Drops by reason for packets received on or sent to this device.
	Drops map[string]uint64 `json:"drops,omitempty"`
}

// Addr is an interface address.
type Addr struct {
	Dev    string `json:"dev"`
	Prefix string `json:"local"` // "10.0.0.1/24", "2001:db8::1/64"
	Family int    `json:"family,omitempty"`
	Scope  string `json:"scope,omitempty"` // "global", "link", "host"
	// Broadcast is the IPv4 broadcast address given with the address
	// (show: empty if none was). On add: an address, "+" (the prefix's
	// all-ones host part) or "-" (its all-zeros one), as iproute2's brd.
	Broadcast string `json:"broadcast,omitempty"`
	// Flags: on add "nodad", "noprefixroute" (no connected route); show
	// adds "secondary" for an IPv4 address in the subnet of an earlier one
	// with the same prefix length.
	Flags []string `json:"flags,omitempty"`
}

// Nexthop is one path of a route.
type Nexthop struct {
	Via    string   `json:"gateway,omitempty"`
	Dev    string   `json:"dev,omitempty"`
	Weight int      `json:"weight,omitempty"` // 1..256; 0 = 1
	Onlink bool     `json:"onlink,omitempty"`
	Flags  []string `json:"flags,omitempty"` // show: "dead", "linkdown", "onlink"
	Encap  *Encap   `json:"encap,omitempty"`
	// As is the label stack an MPLS label route pushes in place of the
	// incoming label ("as 200/300"); empty = pop.
	As []uint32 `json:"as,omitempty"`
}

// Route is a route. A single-path route uses Via/Dev/Onlink; a multipath
// route lists Nexthops (and leaves Via/Dev empty).
type Route struct {
	Family   int       `json:"family,omitempty"`
	Type     string    `json:"type,omitempty"` // "unicast" (default), "local", "broadcast", "blackhole", "unreachable", "prohibit", "throw"
	Dst      string    `json:"dst"`            // "default" or a prefix; an address means /32 or /128
	Table    uint32    `json:"table,omitempty"`
	Via      string    `json:"gateway,omitempty"`
	Dev      string    `json:"dev,omitempty"`
	Onlink   bool      `json:"onlink,omitempty"`
	Metric   uint32    `json:"metric,omitempty"`
	Src      string    `json:"prefsrc,omitempty"`
	MTU      uint32    `json:"mtu,omitempty"`
	MTULock  bool      `json:"mtu_lock,omitempty"`
	Protocol string    `json:"protocol,omitempty"` // "kernel", "boot", "static", or a number
	Scope    string    `json:"scope,omitempty"`    // "global", "link", "host"
	Nexthops []Nexthop `json:"nexthops,omitempty"`
	Flags    []string  `json:"flags,omitempty"` // show: "dead", "linkdown" for single-path routes
	Encap    *Encap    `json:"encap,omitempty"`
	// As: for Family FamilyMPLS, the labels pushed in place of the
	// incoming one (Dst is the incoming label as a decimal string).
	As []uint32 `json:"as,omitempty"`
	// Set* say which optional fields a del named, so a delete matches only
	// on what was given (the kernel's semantics).
	SetMetric   bool `json:"set_metric,omitempty"`
	SetProtocol bool `json:"set_protocol,omitempty"`
	SetScope    bool `json:"set_scope,omitempty"`
	SetType     bool `json:"set_type,omitempty"`
}

// RouteGet asks which way a packet would go (ip route get).
type RouteGet struct {
	Dst     string `json:"dst"`
	From    string `json:"from,omitempty"`
	Iif     string `json:"iif,omitempty"`
	Oif     string `json:"oif,omitempty"`
	Mark    uint32 `json:"mark,omitempty"`
	IPProto string `json:"ipproto,omitempty"` // "tcp", "udp", "icmp" or a number
	Sport   uint16 `json:"sport,omitempty"`
	Dport   uint16 `json:"dport,omitempty"`
}

// RouteGetResult is the decision, and how it was reached.
type RouteGetResult struct {
	Type    string `json:"type"` // unicast, local, blackhole, unreachable, prohibit
	Dst     string `json:"dst"`
	Via     string `json:"gateway,omitempty"`
	Dev     string `json:"dev,omitempty"`
	Src     string `json:"prefsrc,omitempty"`
	Table   uint32 `json:"table"`
	MTU     uint32 `json:"mtu,omitempty"`     // route MTU metric if any
	PathMTU uint32 `json:"pathmtu,omitempty"` // what forwarding would enforce
	Iif     string `json:"iif,omitempty"`
	Mark    uint32 `json:"mark,omitempty"`
	// Encap is the chosen nexthop's encapsulation, if it has one.
	Encap *Encap `json:"encap,omitempty"`
	// Explain lists every decision on the way: rules tried, table and
	// prefix matched, nexthop chosen (and why, for ECMP), neighbour state.
	Explain []string `json:"explain,omitempty"`
}

// Rule is a policy routing rule.
type Rule struct {
	Family      int    `json:"family,omitempty"`
	Priority    uint32 `json:"priority"`
	SetPriority bool   `json:"set_priority,omitempty"` // Priority was given (0 is a valid priority)
	Not         bool   `json:"not,omitempty"`
	From        string `json:"src,omitempty"` // prefix; "" or "all" = any
	To          string `json:"dst,omitempty"`
	Iif         string `json:"iif,omitempty"`
	Oif         string `json:"oif,omitempty"`
	FwMark      uint32 `json:"fwmark,omitempty"`
	FwMask      uint32 `json:"fwmask,omitempty"`
	TunID       uint64 `json:"tun_id,omitempty"`
	Action      string `json:"action,omitempty"` // "lookup" (default), "blackhole", "unreachable", "prohibit", "nop", "goto"
	Table       uint32 `json:"table,omitempty"`
	// Detached in show: the iif/oif device does not exist now.
	IifDetached bool `json:"iif_detached,omitempty"`
	OifDetached bool `json:"oif_detached,omitempty"`
	// Goto is the target priority of Action "goto"; Unresolved in show:
	// no rule has that priority now (the goto is skipped).
	Goto       uint32 `json:"goto,omitempty"`
	Unresolved bool   `json:"unresolved,omitempty"`
}

// Neigh is a neighbour entry.
type Neigh struct {
	Dev    string `json:"dev"`
	Dst    string `json:"dst"`
	LLAddr string `json:"lladdr,omitempty"`
	State  string `json:"state,omitempty"` // "PERMANENT", "NOARP", "REACHABLE", "STALE", ... (add: default PERMANENT)
	Router bool   `json:"router,omitempty"`
}

// Stats is the daemon's counters.
type Stats struct {
	Links []LinkStatsEntry `json:"links"`
	// Drops by reason, summed over all workers.
	Drops   map[string]uint64 `json:"drops"`
	Workers []WorkerStats     `json:"workers,omitempty"`
	Neigh   map[string]uint64 `json:"neigh,omitempty"`
	// Snapshot generation of the running configuration.
	Generation uint64 `json:"generation"`
}

// LinkStatsEntry is one device's counters in Stats.
type LinkStatsEntry struct {
	Name string `json:"name"`
	LinkStats
}

// WorkerStats describe one worker goroutine.
type WorkerStats struct {
	ID        int    `json:"id"`
	Port      string `json:"port"`
	Queue     int    `json:"queue"`
	Packets   uint64 `json:"packets"`
	Batches   uint64 `json:"batches"`
	Coalesced uint64 `json:"coalesced"` // TCP segments merged into super-frames before transmit
	// CPU is the CPU the worker is bound to when it follows its senders
	// (flowpathd --follow-senders), -1 when it is not bound; CPUMoves
	// counts its moves.
	CPU       int    `json:"cpu"`
	CPUMoves  uint64 `json:"cpu_moves"`
	PoolInUse int64  `json:"pool_in_use"`
	PoolSize  int    `json:"pool_size"`
	PoolEmpty uint64 `json:"pool_exhausted"`
	Pending   int    `json:"pending"`
}
