package main

// Printers: api objects to iproute2's text. Each Format function returns
// the exact text ip prints for the equivalent kernel object (iproute2 6.x,
// trailing spaces included where ip leaves them, so scripts that parse ip
// parse fpctl), minus what flowpath does not have (qdisc, group, qlen,
// lifetimes other than forever, IPv6 router preference, uid, cache).

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"flowpath/api"
)

// routeFamily is the family of a route in show output.
func routeFamily(r *api.Route) int {
	if r.Family != 0 {
		return r.Family
	}
	if f := textFamily(r.Dst); f != 0 {
		return f
	}
	if f := textFamily(r.Via); f != 0 {
		return f
	}
	for _, nh := range r.Nexthops {
		if f := textFamily(nh.Via); f != 0 {
			return f
		}
	}
	return 4
}

// via prints a gateway; one of another family than the route's is
// spelled with its family, as ip does for RTA_VIA.
func via(addr string, fam int) string {
	if f := textFamily(addr); f != 0 && f != fam {
		return "via " + familyName(f) + " " + addr + " "
	}
	return "via " + addr + " "
}

// FormatRoute prints one route as ip route show does. f is the filter of
// the show (nil: none): a route is printed without what the filter fixed
// (its device), and with its table only under "table all".
func FormatRoute(r *api.Route, f *api.Filter, details bool) string {
	var b strings.Builder
	fam := routeFamily(r)
	typ := r.Type
	if typ == "" {
		typ = "unicast"
	}
	if typ != "unicast" || details {
		b.WriteString(typ + " ")
	}
	if fam == api.FamilyMPLS {
		b.WriteString(r.Dst + " ")
	} else {
		b.WriteString(showPrefix(r.Dst) + " ")
	}
	b.WriteString(asTo(r.As))
	b.WriteString(formatEncap(r.Encap))
	if r.Via != "" {
		b.WriteString(via(r.Via, fam))
	}
	if r.Dev != "" && (f == nil || f.Dev == "") {
		b.WriteString("dev " + r.Dev + " ")
	}
	if f != nil && f.Table == api.TableAll && (tableName(r.Table) != "main" || details) {
		b.WriteString("table " + tableName(r.Table) + " ")
	}
	if p := protoName(r.Protocol); p != "boot" || details {
		b.WriteString("proto " + p + " ")
	}
	scope := r.Scope
	if scope == "" {
		scope = "global"
	}
	if scope != "global" || details {
		b.WriteString("scope " + scope + " ")
	}
	if r.Src != "" {
		b.WriteString("src " + r.Src + " ")
	}
	// The kernel reports an IPv4 metric only when it is not 0, an IPv6
	// one always.
	if r.Metric != 0 || fam == 6 {
		b.WriteString("metric " + strconv.FormatUint(uint64(r.Metric), 10) + " ")
	}
	writeFlags(&b, r.Flags, r.Onlink)
	if r.MTU != 0 || r.MTULock {
		b.WriteString("mtu ")
		if r.MTULock {
			b.WriteString("lock ")
		}
		b.WriteString(strconv.FormatUint(uint64(r.MTU), 10) + " ")
	}
	for _, nh := range r.Nexthops {
		b.WriteString("\n\tnexthop ")
		b.WriteString(formatEncap(nh.Encap))
		b.WriteString(asTo(nh.As))
		if nh.Via != "" {
			b.WriteString(via(nh.Via, fam))
		}
		if nh.Dev != "" {
			b.WriteString("dev " + nh.Dev + " ")
		}
		// ip prints no weight for MPLS next hops.
		if fam != api.FamilyMPLS {
			w := nh.Weight
			if w == 0 {
				w = 1
			}
			b.WriteString("weight " + strconv.Itoa(w) + " ")
		}
		writeFlags(&b, nh.Flags, nh.Onlink)
	}
	b.WriteString("\n")
	return b.String()
}

// writeFlags prints next-hop flags in iproute2's order (dead, onlink,
// linkdown), then any others.
func writeFlags(b *strings.Builder, flags []string, onlink bool) {
	has := func(f string) bool { return slices.Contains(flags, f) }
	if has("dead") {
		b.WriteString("dead ")
	}
	if onlink || has("onlink") {
		b.WriteString("onlink ")
	}
	if has("linkdown") {
		b.WriteString("linkdown ")
	}
	for _, f := range flags {
		if f != "dead" && f != "onlink" && f != "linkdown" {
			b.WriteString(f + " ")
		}
	}
}

// FormatRouteGet prints ip route get's line for the answer g to the
// question q, then the daemon's explanation of how it decided, one step
// per line, indented by four spaces (the first line stays ip's).
func FormatRouteGet(q *api.RouteGet, g *api.RouteGetResult) string {
	var b strings.Builder
	if g.Type != "" && g.Type != "unicast" {
		b.WriteString(g.Type + " ")
	}
	dst := g.Dst
	if dst == "" {
		dst = q.Dst
	}
	b.WriteString(dst + " ")
	// The kernel prints the nexthop's encapsulation right after the
	// destination, as in a route.
	b.WriteString(formatEncap(g.Encap))
	if q.From != "" {
		b.WriteString("from " + q.From + " ")
	}
	fam := textFamily(dst)
	if g.Via != "" {
		b.WriteString(via(g.Via, fam))
	}
	if g.Dev != "" {
		b.WriteString("dev " + g.Dev + " ")
	}
	// The kernel leaves out the local table of a local answer.
	if t := tableName(g.Table); t != "main" && !(g.Type == "local" && t == "local") {
		b.WriteString("table " + t + " ")
	}
	if g.Src != "" {
		b.WriteString("src " + g.Src + " ")
	}
	if g.Mark != 0 {
		if g.Mark >= 16 {
			fmt.Fprintf(&b, "mark 0x%x ", g.Mark)
		} else {
			fmt.Fprintf(&b, "mark %d ", g.Mark)
		}
	}
	if g.MTU != 0 {
		fmt.Fprintf(&b, "mtu %d ", g.MTU)
	}
	if g.Iif != "" {
		b.WriteString("iif " + g.Iif + " ")
	}
	b.WriteString("\n")
	if g.PathMTU != 0 {
		fmt.Fprintf(&b, "    path mtu %d\n", g.PathMTU)
	}
	for _, e := range g.Explain {
		b.WriteString("    " + e + "\n")
	}
	return b.String()
}

// FormatRule prints one rule as ip rule show does.
func FormatRule(r *api.Rule) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d:\t", r.Priority)
	if r.Not {
		b.WriteString("not ")
	}
	from := showPrefix(r.From)
	if r.From == "" || from == "default" || r.From == "all" {
		from = "all"
	}
	b.WriteString("from " + from)
	if r.To != "" && r.To != "all" {
		b.WriteString(" to " + showPrefix(r.To))
	}
	if r.FwMark != 0 || (r.FwMask != 0 && r.FwMask != 0xFFFFFFFF) {
		b.WriteString(" fwmark " + hexC(r.FwMark))
		if r.FwMask != 0 && r.FwMask != 0xFFFFFFFF {
			b.WriteString("/" + hexC(r.FwMask))
		}
	}
	if r.Iif != "" {
		b.WriteString(" iif " + r.Iif)
		if r.IifDetached {
			b.WriteString(" [detached]")
		}
	}
	if r.Oif != "" {
		b.WriteString(" oif " + r.Oif)
		if r.OifDetached {
			b.WriteString(" [detached]")
		}
	}
	if r.TunID != 0 {
		b.WriteString(" tun_id " + strconv.FormatUint(r.TunID, 10))
	}
	switch r.Action {
	case "", "lookup":
		b.WriteString(" lookup " + tableName(r.Table))
	case "goto":
		b.WriteString(" goto " + strconv.FormatUint(uint64(r.Goto), 10))
		if r.Unresolved {
			b.WriteString(" [unresolved]")
		}
	default:
		b.WriteString(" " + r.Action)
	}
	b.WriteString("\n")
	return b.String()
}

// hexC is C's "%#x": 0 without the prefix.
func hexC(v uint32) string {
	if v == 0 {
		return "0"
	}
	return fmt.Sprintf("0x%x", v)
}

// FormatNeigh prints one neighbour as ip neigh show does (without its
// device when the show was for one device).
func FormatNeigh(n *api.Neigh, f *api.Filter) string {
	var b strings.Builder
	b.WriteString(n.Dst + " ")
	if f == nil || f.Dev == "" {
		b.WriteString("dev " + n.Dev + " ")
	}
	if n.LLAddr != "" {
		b.WriteString("lladdr " + n.LLAddr + " ")
	}
	if n.Router {
		b.WriteString("router ")
	}
	if n.State != "" {
		b.WriteString(n.State + " ")
	}
	b.WriteString("\n")
	return b.String()
}

// linkHeader is the first two lines of ip link show and ip addr show.
func linkHeader(l *api.Link) string {
	var b strings.Builder
	state := l.OperState
	if state == "" {
		state = "UNKNOWN"
	}
	name := l.Name
	if l.Link != "" {
		name += "@" + l.Link // a stacked device names the one below, like ip
	}
	fmt.Fprintf(&b, "%d: %s: <%s> mtu %d state %s\n", l.Index, name, strings.Join(l.Flags, ","), l.MTU, state)
	switch {
	case l.Kind == "loopback" || slices.Contains(l.Flags, "LOOPBACK"):
		mac := l.MAC
		if mac == "" {
			mac = "00:00:00:00:00:00"
		}
		b.WriteString("    link/loopback " + mac + " brd 00:00:00:00:00:00\n")
	case l.MAC == "":
		b.WriteString("    link/none \n")
	default:
		b.WriteString("    link/ether " + l.MAC + " brd ff:ff:ff:ff:ff:ff\n")
	}
	return b.String()
}

// FormatLink prints one link as ip link show does; with stats > 0 the
// counters follow (ip -s link), with details the kind and its arguments
// (ip -d link).
func FormatLink(l *api.Link, stats int, details bool) string {
	var b strings.Builder
	b.WriteString(linkHeader(l))
	switch {
	case details && l.VXLAN != nil:
		b.WriteString("    " + formatVXLAN(l.VXLAN) + "\n")
	case details && l.Geneve != nil:
		b.WriteString("    " + formatGeneve(l.Geneve) + "\n")
	case details && l.VLAN != nil:
		fmt.Fprintf(&b, "    vlan protocol %s id %d <REORDER_HDR> \n", l.VLAN.Protocol, l.VLAN.ID)
	case details && l.Kind != "":
		b.WriteString("    " + l.Kind)
		if l.IfName != "" {
			b.WriteString(" ifname " + l.IfName)
		}
		if l.Queues != 0 {
			b.WriteString(" queues " + strconv.Itoa(l.Queues))
		}
		b.WriteString(" \n")
		if len(l.Offloads) > 0 {
			b.WriteString("    offload " + strings.Join(l.Offloads, " ") + " \n")
		}
	}
	if stats > 0 && l.Stats != nil {
		b.WriteString(formatLinkStats(l.Stats))
	}
	return b.String()
}

// formatLinkStats is ip -s link's counter block for the counters flowpath
// keeps (bytes, packets, dropped), in ip's layout: right-aligned columns
// as wide as their header or widest value, then drops by reason.
func formatLinkStats(s *api.LinkStats) string {
	heads := []string{"bytes", "packets", "dropped"}
	rx := []uint64{s.RxBytes, s.RxPackets, s.RxDropped}
	tx := []uint64{s.TxBytes, s.TxPackets, s.TxDropped}
	width := []int{6, 7, 7}
	for i := range heads {
		for _, v := range []uint64{rx[i], tx[i]} {
			width[i] = max(width[i], len(strconv.FormatUint(v, 10)))
		}
	}
	var b strings.Builder
	block := func(name string, vals []uint64) {
		b.WriteString("    " + name + ":")
		for i, h := range heads {
			fmt.Fprintf(&b, " %*s", width[i], h)
		}
		b.WriteString("\n       ")
		for i, v := range vals {
			fmt.Fprintf(&b, " %*d", width[i], v)
		}
		b.WriteString("\n")
	}
	block("RX", rx)
	block("TX", tx)
	if len(s.Drops) > 0 {
		b.WriteString("    drops:")
		for _, k := range sortedKeys(s.Drops) {
			fmt.Fprintf(&b, " %s %d", k, s.Drops[k])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func sortedKeys(m map[string]uint64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatAddrs prints ip addr show: each link, then its addresses. When
// the show selected by family or prefix, links without addresses are left
// out and the others lose their link/ line (as with ip -4 addr). Addresses of a device not in links get a
// bare header, so none is ever hidden.
func FormatAddrs(links []api.Link, addrs []api.Addr, f *api.Filter) string {
	byDev := map[string][]api.Addr{}
	var order []string
	// ip lists a link's IPv4 addresses before its IPv6 ones (the kernel
	// dumps family by family); the daemon's order is kept within each.
	sorted := make([]api.Addr, len(addrs))
	copy(sorted, addrs)
	sort.SliceStable(sorted, func(i, j int) bool {
		return addrFam(&sorted[i]) == 4 && addrFam(&sorted[j]) == 6
	})
	for _, a := range sorted {
		if _, ok := byDev[a.Dev]; !ok {
			order = append(order, a.Dev)
		}
		byDev[a.Dev] = append(byDev[a.Dev], a)
	}
	onlyWithAddrs := f != nil && (f.Family != 0 || f.Prefix != "")
	var b strings.Builder
	seen := map[string]bool{}
	for i := range links {
		l := &links[i]
		if f != nil && f.Dev != "" && l.Name != f.Dev {
			continue
		}
		seen[l.Name] = true
		as := byDev[l.Name]
		if onlyWithAddrs && len(as) == 0 {
			continue
		}
		header := linkHeader(l)
		if onlyWithAddrs {
			// ip -4 addr and ip addr show to PREFIX print no link/ line.
			header = header[:strings.IndexByte(header, '\n')+1]
		}
		b.WriteString(header)
		for j := range as {
			b.WriteString(formatAddr(&as[j]))
		}
	}
	for _, dev := range order {
		if seen[dev] {
			continue
		}
		b.WriteString("?: " + dev + ":\n")
		for j := range byDev[dev] {
			b.WriteString(formatAddr(&byDev[dev][j]))
		}
	}
	return b.String()
}

func addrFam(a *api.Addr) int {
	if a.Family != 0 {
		return a.Family
	}
	return textFamily(a.Prefix)
}

func formatAddr(a *api.Addr) string {
	var b strings.Builder
	fam := addrFam(a)
	scope := a.Scope
	if scope == "" {
		scope = "global"
	}
	// Flags follow the scope in iproute2's order (secondary, nodad,
	// noprefixroute); an IPv4 address ends with its label, the device.
	flags := ""
	for _, f := range []string{"secondary", "nodad", "noprefixroute"} {
		if slices.Contains(a.Flags, f) {
			flags += f + " "
		}
	}
	if fam == 6 {
		b.WriteString("    inet6 " + a.Prefix + " scope " + scope + " " + flags + "\n")
	} else {
		b.WriteString("    inet " + a.Prefix + " ")
		if a.Broadcast != "" {
			b.WriteString("brd " + a.Broadcast + " ")
		}
		b.WriteString("scope " + scope + " " + flags + a.Dev + "\n")
	}
	b.WriteString("       valid_lft forever preferred_lft forever\n")
	return b.String()
}

// FormatStats prints the daemon's counters as tables.
func FormatStats(s *api.Stats) string {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "DEVICE\tRX-PACKETS\tRX-BYTES\tRX-DROPPED\tTX-PACKETS\tTX-BYTES\tTX-DROPPED\n")
	for _, l := range s.Links {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", l.Name, l.RxPackets, l.RxBytes, l.RxDropped, l.TxPackets, l.TxBytes, l.TxDropped)
	}
	tw.Flush()
	if len(s.Drops) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "DROP REASON\tPACKETS\n")
		for _, k := range sortedKeys(s.Drops) {
			fmt.Fprintf(tw, "%s\t%d\n", k, s.Drops[k])
		}
		tw.Flush()
	}
	if len(s.Workers) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "WORKER\tPORT\tQUEUE\tPACKETS\tBATCHES\tPOOL-IN-USE\tPOOL-SIZE\tPOOL-EXHAUSTED\tPENDING\tCPU\tCPU-MOVES\n")
		for _, w := range s.Workers {
			cpu := "-"
			if w.CPU >= 0 {
				cpu = strconv.Itoa(w.CPU)
			}
			fmt.Fprintf(tw, "%d\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\n", w.ID, w.Port, w.Queue, w.Packets, w.Batches, w.PoolInUse, w.PoolSize, w.PoolEmpty, w.Pending, cpu, w.CPUMoves)
		}
		tw.Flush()
	}
	if len(s.Neigh) > 0 {
		b.WriteString("\n")
		tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "NEIGHBOUR\tCOUNT\n")
		for _, k := range sortedKeys(s.Neigh) {
			fmt.Fprintf(tw, "%s\t%d\n", k, s.Neigh[k])
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\ngeneration %d\n", s.Generation)
	return b.String()
}

// writeJSON prints v like ip -j: one line, or indented with -p.
func writeJSON(w io.Writer, v any, pretty bool) error {
	var out []byte
	var err error
	if pretty {
		out, err = json.MarshalIndent(v, "", "    ")
	} else {
		out, err = json.Marshal(v)
	}
	if err != nil {
		return err
	}
	_, err = w.Write(append(out, '\n'))
	return err
}
