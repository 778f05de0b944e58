package main

// The iproute2 argument grammar, by hand: cobra finds the object and the
// command, and these functions turn the rest into an api.Request. Nothing
// here does I/O, so every rule is unit-tested and fuzzed.
//
// Keywords are tried in iproute2's order, with its abbreviations (a
// keyword iproute2 accepts by prefix is accepted by prefix here), and
// errors carry iproute2's text and exit status.

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"flowpath/api"
)

// cliError is a failure with the message and exit status iproute2 uses:
// 255 for grammar errors (its exit(-1)), 1 for bad addresses and missing
// devices, 2 for errors the daemon reported.
type cliError struct {
	msg    string
	status int
}

func (e *cliError) Error() string { return e.msg }

func errf(status int, format string, args ...any) error {
	return &cliError{msg: fmt.Sprintf(format, args...), status: status}
}

// invarg: an argument of a keyword is not valid.
func invarg(what, arg string) error {
	return errf(255, "Error: argument %q is wrong: %s", arg, what)
}

// duparg2: a positional argument came twice, or a word is unknown.
func duparg2(key, arg string) error {
	return errf(255, "Error: either %q is duplicate, or %q is a garbage.", key, arg)
}

// duparg: a keyword came twice.
func duparg(key, arg string) error {
	return errf(255, "Error: duplicate %q: %q is the second value.", key, arg)
}

func incomplete() error {
	return errf(255, `Command line is not complete. Try option "help"`)
}

func prefixExpected(fam int, arg string) error {
	return errf(1, "Error: %s prefix is expected rather than %q.", familyName(fam), arg)
}

func addrExpected(fam int, arg string) error {
	return errf(1, "Error: %s address is expected rather than %q.", familyName(fam), arg)
}

func notSupported(keyword string) error {
	return errf(255, "Error: %q is not supported by flowpath.", keyword)
}

func usageError(object string) error {
	return errf(255, "%s", usage[object])
}

// args walks an argument list.
type args struct {
	a []string
	i int
}

func (p *args) more() bool  { return p.i < len(p.a) }
func (p *args) cur() string { return p.a[p.i] }

// next moves to the keyword's argument; a keyword at the end of the line
// is iproute2's "Command line is not complete".
func (p *args) next() (string, error) {
	if p.i+1 >= len(p.a) {
		return "", incomplete()
	}
	p.i++
	return p.a[p.i], nil
}

// nextTo moves to the keyword's argument and stores it in dst.
func (p *args) nextTo(dst *string) error {
	v, err := p.next()
	if err == nil {
		*dst = v
	}
	return err
}

// nextValue moves to the keyword's argument and parses it; a word parse
// refuses is invarg's error with what.
func nextValue[T any](p *args, parse func(string) (T, bool), what string) (T, error) {
	v, err := p.next()
	if err != nil {
		var zero T
		return zero, err
	}
	x, ok := parse(v)
	if !ok {
		return x, invarg(what, v)
	}
	return x, nil
}

// once moves to the argument of key, a keyword that may come only once
// (seen says whether it came already: iproute2's duparg), and hands it to
// parse.
func (p *args) once(key string, seen *bool, parse func(string) error) error {
	v, err := p.next()
	if err != nil {
		return err
	}
	if *seen {
		return duparg(key, v)
	}
	*seen = true
	return parse(v)
}

// str is a parse func for once that takes the word as it is.
func str(dst *string) func(string) error {
	return func(v string) error {
		*dst = v
		return nil
	}
}

// mtuArg parses ip link's "mtu N".
func mtuArg(dst *int) func(string) error {
	return func(v string) error {
		mtu, ok := parseUint(v, 31)
		if !ok {
			return invarg(`Invalid "mtu" value`, v)
		}
		*dst = int(mtu)
		return nil
	}
}

// lladdrArg parses a link-layer address (ip link's address, ip neigh's
// lladdr).
func lladdrArg(dst *string) func(string) error {
	return func(v string) error {
		mac, ok := parseMAC(v)
		if !ok {
			return errf(1, "%q is invalid lladdr.", v)
		}
		*dst = mac
		return nil
	}
}

// BuildRequest turns OBJECT COMMAND ARGS (canonical object and command
// names; cobra resolves abbreviations) into the request to send. family
// is 4 or 6 from -4/-6, or 0.
func BuildRequest(object, command string, argv []string, family int) (*api.Request, error) {
	switch object {
	case "link":
		return buildLink(command, argv)
	case "address":
		return buildAddr(command, argv, family)
	case "route":
		return buildRoute(command, argv, family)
	case "rule":
		return buildRule(command, argv, family)
	case "neighbour":
		return buildNeigh(command, argv, family)
	case "fdb":
		return buildFDB(command, argv, family)
	case "stats":
		if len(argv) > 0 {
			return nil, duparg2("stats", argv[0])
		}
		return &api.Request{Op: api.OpStats}, nil
	case "sysctl":
		return buildSysctl(argv)
	}
	return nil, errf(255, "Object %q is unknown, try \"fpctl help\".", object)
}

func unknownCommand(object, command string) error {
	return errf(255, "Command %q is unknown, try \"fpctl %s help\".", command, object)
}

// ---- link ----

func buildLink(command string, argv []string) (*api.Request, error) {
	switch command {
	case "add":
		l, err := ParseLinkAdd(argv)
		if err != nil {
			return nil, err
		}
		return &api.Request{Op: api.OpLinkAdd, Link: l}, nil
	case "set":
		l, err := ParseLinkSet(argv)
		if err != nil {
			return nil, err
		}
		return &api.Request{Op: api.OpLinkSet, Link: l}, nil
	case "delete":
		name, err := parseDevOnly(argv, true)
		if err != nil {
			return nil, err
		}
		return &api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: name}}, nil
	case "show":
		name, err := parseDevOnly(argv, false)
		if err != nil {
			return nil, err
		}
		req := &api.Request{Op: api.OpLinkShow}
		if name != "" {
			req.Filter = &api.Filter{Dev: name}
		}
		return req, nil
	}
	return nil, unknownCommand("link", command)
}

// parseDevOnly reads "[dev] NAME", the whole argument list of link del
// and link show.
func parseDevOnly(argv []string, required bool) (string, error) {
	p := &args{a: argv}
	name := ""
	for ; p.more(); p.i++ {
		a := p.cur()
		if a == "dev" {
			var err error
			if a, err = p.next(); err != nil {
				return "", err
			}
		} else if a == "help" {
			return "", usageError("link")
		}
		if name != "" {
			return "", duparg2("dev", a)
		}
		name = a
	}
	if name == "" && required {
		return "", errf(255, `Not enough information: "dev" argument is required.`)
	}
	return name, nil
}

// ParseLinkAdd reads "[link DEV] [name|dev] NAME [mtu N] [address MAC]
// type KIND [KIND ARGS]"; afpacket and tap take "ifname IF" and "queues N",
// vlan "[protocol P] id N" on the device given by link.
func ParseLinkAdd(argv []string) (*api.Link, error) {
	p := &args{a: argv}
	l := &api.Link{}
	var gotName, gotMTU, gotAddr, gotLink bool
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "type":
			kind, err := p.next()
			if err != nil {
				return nil, err
			}
			l.Kind = kind
			p.i++
			if err := parseKindArgs(l, p); err != nil {
				return nil, err
			}
			if l.Name == "" {
				return nil, errf(255, `Not enough information: "dev" argument is required.`)
			}
			return l, nil
		case a == "name":
			if err := p.once("name", &gotName, str(&l.Name)); err != nil {
				return nil, err
			}
		case a == "mtu":
			if err := p.once("mtu", &gotMTU, mtuArg(&l.MTU)); err != nil {
				return nil, err
			}
		case matches(a, "address"):
			if err := p.once("address", &gotAddr, lladdrArg(&l.MAC)); err != nil {
				return nil, err
			}
		case a == "up":
			up := true
			l.Up = &up
		case a == "link":
			if err := p.once("link", &gotLink, str(&l.Link)); err != nil {
				return nil, err
			}
		case isUnsupportedLinkWord(a):
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("link")
		default:
			if a == "dev" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if gotName {
				return nil, duparg2("dev", a)
			}
			l.Name, gotName = a, true
		}
	}
	return nil, errf(1, `Not enough information: "type" argument is required`)
}

func isUnsupportedLinkWord(a string) bool {
	switch a {
	case "link", "txqueuelen", "txqlen", "numtxqueues", "numrxqueues", "netns",
		"broadcast", "brd", "arp", "multicast", "allmulticast", "promisc",
		"group", "master", "nomaster", "vrf", "alias", "qlen", "index",
		"gso_max_size", "gso_max_segs", "protodown", "xdp", "vf", "addrgenmode":
		return true
	}
	return false
}

func parseKindArgs(l *api.Link, p *args) error {
	switch l.Kind {
	case "vxlan":
		return parseVXLAN(l, p)
	case "geneve":
		return parseGeneve(l, p)
	case "vlan":
		return parseVLAN(l, p)
	case "afpacket", "tap":
		var gotIf, gotQ bool
		for ; p.more(); p.i++ {
			a := p.cur()
			switch a {
			case "ifname":
				if err := p.once("ifname", &gotIf, str(&l.IfName)); err != nil {
					return err
				}
			case "queues":
				err := p.once("queues", &gotQ, func(v string) error {
					q, ok := parseUint(v, 16)
					if !ok || q == 0 {
						return invarg(`invalid "queues" value`, v)
					}
					l.Queues = int(q)
					return nil
				})
				if err != nil {
					return err
				}
			default:
				return errf(255, "%s: unknown option %q (want ifname IF, queues N)", l.Kind, a)
			}
		}
	default:
		if p.more() {
			return errf(255, "%s: unknown option %q", l.Kind, p.cur())
		}
	}
	return nil
}

// ParseLinkSet reads "[dev] NAME [up|down] [mtu N] [address MAC]...".
func ParseLinkSet(argv []string) (*api.Link, error) {
	p := &args{a: argv}
	l := &api.Link{}
	var gotMTU, gotAddr, gotName bool
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "up" || a == "down":
			up := a == "up"
			l.Up = &up
		case a == "name":
			if err := p.once("name", &gotName, str(&l.NewName)); err != nil {
				return nil, err
			}
		case a == "mtu":
			if err := p.once("mtu", &gotMTU, mtuArg(&l.MTU)); err != nil {
				return nil, err
			}
		case matches(a, "address"):
			if err := p.once("address", &gotAddr, lladdrArg(&l.MAC)); err != nil {
				return nil, err
			}
		case isUnsupportedLinkWord(a):
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("link")
		default:
			if a == "dev" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if l.Name != "" {
				return nil, duparg2("dev", a)
			}
			l.Name = a
		}
	}
	if l.Name == "" {
		return nil, errf(255, `Not enough information: "dev" argument is required.`)
	}
	return l, nil
}

// ---- address ----

func buildAddr(command string, argv []string, family int) (*api.Request, error) {
	switch command {
	case "add", "delete":
		a, err := ParseAddr(argv, family)
		if err != nil {
			return nil, err
		}
		op := api.OpAddrAdd
		if command == "delete" {
			op = api.OpAddrDel
		}
		return &api.Request{Op: op, Addr: a}, nil
	case "show", "flush":
		f, err := ParseAddrFilter(argv, family, command == "flush")
		if err != nil {
			return nil, err
		}
		op := api.OpAddrShow
		if command == "flush" {
			op = api.OpAddrFlush
		}
		return &api.Request{Op: op, Filter: f}, nil
	}
	return nil, unknownCommand("address", command)
}

// ParseAddr reads "[local] PREFIX dev NAME [scope SCOPE]".
func ParseAddr(argv []string, family int) (*api.Addr, error) {
	p := &args{a: argv}
	ad := &api.Addr{}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "dev":
			if err := p.nextTo(&ad.Dev); err != nil {
				return nil, err
			}
		case a == "scope":
			s, err := nextValue(p, parseScope, `invalid scope value.`)
			if err != nil {
				return nil, err
			}
			ad.Scope = s
		case matches(a, "broadcast") || a == "brd":
			var b string
			if err := p.nextTo(&b); err != nil {
				return nil, err
			}
			if ad.Broadcast != "" {
				return nil, duparg("broadcast", b)
			}
			ad.Broadcast = b
			if b != "+" && b != "-" {
				if ba, err := netip.ParseAddr(b); err != nil || !ba.Is4() {
					return nil, errf(1, `Error: an inet address is expected rather than "%s".`, b)
				}
			}
		case a == "nodad" || a == "noprefixroute":
			if !slices.Contains(ad.Flags, a) {
				ad.Flags = append(ad.Flags, a)
			}
		case a == "peer" || a == "remote" ||
			matches(a, "anycast") || a == "label" || a == "valid_lft" || a == "preferred_lft" ||
			a == "home" || a == "mngtmpaddr" ||
			a == "autojoin" || a == "metric" || a == "proto":
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("address")
		default:
			if a == "local" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if ad.Prefix != "" {
				return nil, duparg2("local", a)
			}
			pfx, isDef, ok := parsePrefix(a, family)
			if !ok || isDef {
				return nil, prefixExpected(family, a)
			}
			ad.Prefix = pfx.String()
			ad.Family = addrFamily(pfx.Addr())
			family = ad.Family
		}
	}
	if ad.Dev == "" {
		return nil, errf(1, `Not enough information: "dev" argument is required.`)
	}
	if ad.Prefix == "" {
		return nil, usageError("address")
	}
	return ad, nil
}

// ParseAddrFilter reads "[dev] NAME [to PREFIX]" for addr show and flush.
func ParseAddrFilter(argv []string, family int, flush bool) (*api.Filter, error) {
	if flush && len(argv) == 0 {
		return nil, errf(1, "Flush requires arguments.")
	}
	p := &args{a: argv}
	f := &api.Filter{Family: family}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "to":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			pfx, isDef, ok := parsePrefix(v, family)
			if !ok || isDef {
				return nil, prefixExpected(family, v)
			}
			f.Prefix = pfx.String()
		case a == "scope" || a == "label" || a == "up" || a == "master" || a == "vrf" ||
			a == "type" || a == "nomaster" || a == "permanent" || a == "dynamic" ||
			a == "primary" || a == "secondary" || a == "tentative" || a == "deprecated":
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("address")
		default:
			if a == "dev" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if f.Dev != "" {
				return nil, duparg2("dev", a)
			}
			f.Dev = a
		}
	}
	return f, nil
}

// ---- route ----

func buildRoute(command string, argv []string, family int) (*api.Request, error) {
	switch command {
	case "add", "replace", "append", "prepend", "change", "delete":
		r, err := ParseRoute(argv, family, command == "delete")
		if err != nil {
			return nil, err
		}
		op := map[string]string{"add": api.OpRouteAdd, "replace": api.OpRouteReplace,
			"append": api.OpRouteAppend, "prepend": api.OpRoutePrepend, "change": api.OpRouteChange,
			"delete": api.OpRouteDel}[command]
		return &api.Request{Op: op, Route: r}, nil
	case "show", "flush":
		if command == "flush" && len(argv) == 0 {
			return nil, errf(1, `"fpctl route flush" requires arguments.`)
		}
		if family == api.FamilyMPLS {
			f, err := parseMPLSFilter(argv)
			if err != nil {
				return nil, err
			}
			op := api.OpRouteShow
			if command == "flush" {
				op = api.OpRouteFlush
			}
			return &api.Request{Op: op, Filter: f}, nil
		}
		f, err := ParseRouteFilter(argv, family)
		if err != nil {
			return nil, err
		}
		op := api.OpRouteShow
		if command == "flush" {
			op = api.OpRouteFlush
		}
		return &api.Request{Op: op, Filter: f}, nil
	case "get":
		g, err := ParseRouteGet(argv, family)
		if err != nil {
			return nil, err
		}
		return &api.Request{Op: api.OpRouteGet, RouteGet: g}, nil
	}
	return nil, unknownCommand("route", command)
}

// Keywords of ip route add that flowpath has no use for (metrics for TCP,
// realms, lightweight tunnels not yet): refused rather than ignored.
var unsupportedRouteWords = []string{"from", "tos", "dsfield", "expires",
	"hoplimit", "advmss", "reordering", "rtt", "rto_min", "window", "cwnd",
	"initcwnd", "initrwnd", "features", "quickack", "congctl", "rttvar",
	"ssthresh", "realms", "vrf", "pref", "ttl-propagate", "nhid",
	"fastopen_no_cookie"}

// routeWord says which keyword arg is in ip route add, trying them in
// iproute2's order (so "m" is metric and "t" is table, as there).
func routeWord(a string) string {
	exact := func(w string) bool { return a == w }
	switch {
	case exact("src"), exact("via"), exact("onlink"), exact("nexthop"),
		exact("scope"), exact("mtu"), exact("dev"), exact("oif"):
		return a
	case exact("as"):
		return "as"
	case exact("from"), exact("tos"), matches(a, "dsfield"), exact("expires"):
		return "unsupported"
	case matches(a, "metric"), matches(a, "priority"), exact("preference"):
		return "metric"
	case exact("hoplimit"), exact("advmss"), matches(a, "reordering"), exact("rtt"),
		exact("rto_min"), matches(a, "window"), matches(a, "cwnd"), matches(a, "initcwnd"),
		matches(a, "initrwnd"), matches(a, "features"), matches(a, "quickack"),
		matches(a, "congctl"), matches(a, "rttvar"), matches(a, "ssthresh"),
		matches(a, "realms"):
		return "unsupported"
	case matches(a, "protocol"):
		return "protocol"
	case matches(a, "table"):
		return "table"
	case exact("encap"):
		return "encap"
	case matches(a, "vrf"), matches(a, "pref"), exact("ttl-propagate"),
		exact("nhid"), exact("fastopen_no_cookie"):
		return "unsupported"
	}
	return ""
}

// ParseRoute reads ip route add/del's ROUTE:
//
//	[to] [TYPE] PREFIX|default [via [inet|inet6] ADDR] [dev NAME] [table ID]
//	[metric N] [onlink] [mtu [lock] N] [src ADDR] [proto P] [scope S]
//	[nexthop via ADDR dev NAME [weight W] [onlink]]...
//
// For add (del false) it fills what iproute2 fills when not given: type
// unicast, table main (local for local and broadcast routes), protocol
// boot, and the scope iproute2 derives. For del only what was given is
// set (with Set* flags), so the daemon matches on that alone.
func ParseRoute(argv []string, family int, del bool) (*api.Route, error) {
	if family == api.FamilyMPLS {
		return ParseMPLSRoute(argv)
	}
	p := &args{a: argv}
	r := &api.Route{}
	var gotDst, gotVia, gotTable bool
	for ; p.more(); p.i++ {
		a := p.cur()
		switch routeWord(a) {
		case "src":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			ad, ok := parseAddr(v, family)
			if !ok {
				return nil, addrExpected(family, v)
			}
			family = addrFamily(ad)
			r.Src = ad.String()
		case "via":
			if gotVia {
				return nil, invarg("use nexthop syntax to specify multiple via", a)
			}
			gotVia = true
			via, fam, err := parseVia(p, family)
			if err != nil {
				return nil, err
			}
			if family == 0 {
				family = fam
			}
			r.Via = via
		case "metric":
			m, err := nextValue(p, parseU32, `"metric" value is invalid`)
			if err != nil {
				return nil, err
			}
			r.Metric, r.SetMetric = m, true
		case "scope":
			s, err := nextValue(p, parseScope, `invalid "scope" value`)
			if err != nil {
				return nil, err
			}
			r.Scope, r.SetScope = s, true
		case "mtu":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if v == "lock" {
				r.MTULock = true
				if v, err = p.next(); err != nil {
					return nil, err
				}
			}
			m, ok := parseU32(v)
			if !ok {
				return nil, invarg(`"mtu" value is invalid`, v)
			}
			r.MTU = m
		case "onlink":
			r.Onlink = true
		case "nexthop":
			nhs, fam, err := parseNexthops(p, family)
			if err != nil {
				return nil, err
			}
			if family == 0 {
				family = fam
			}
			r.Nexthops = nhs
		case "protocol":
			pr, err := nextValue(p, parseProto, `"protocol" value is invalid`)
			if err != nil {
				return nil, err
			}
			r.Protocol, r.SetProtocol = pr, true
		case "table":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			t, ok := parseTable(v, false)
			if !ok {
				return nil, invarg(`"table" value is invalid`, v)
			}
			r.Table, gotTable = t, true
		case "dev", "oif":
			if err := p.nextTo(&r.Dev); err != nil {
				return nil, err
			}
		case "encap":
			e, err := parseEncap(p)
			if err != nil {
				return nil, err
			}
			r.Encap = e
		case "as":
			return nil, notSupported("as")
		case "unsupported":
			return nil, notSupported(a)
		default:
			if a == "to" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if a != "" && (a[0] < '0' || a[0] > '9') && routeTypes[a] {
				r.Type, r.SetType = a, true
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if matches(a, "help") {
				return nil, usageError("route")
			}
			if gotDst {
				return nil, duparg2("to", a)
			}
			pfx, isDef, ok := parsePrefix(a, family)
			if !ok {
				return nil, prefixExpected(family, a)
			}
			gotDst = true
			if isDef {
				r.Dst = "default"
			} else {
				r.Dst = pfx.String()
				family = addrFamily(pfx.Addr())
			}
		}
	}
	if !gotDst {
		return nil, usageError("route")
	}
	if family == 0 {
		family = 4
	}
	r.Family = family
	if !gotTable {
		r.Table = api.TableMain
		if r.Type == "local" || r.Type == "broadcast" {
			r.Table = api.TableLocal
		}
	}
	if del {
		return r, nil
	}
	if r.Type == "" {
		r.Type = "unicast"
	}
	if r.Protocol == "" {
		r.Protocol = "boot"
	}
	if r.Scope == "" {
		r.Scope = defaultScope(r, gotVia)
	}
	return r, nil
}

// defaultScope is the scope iproute2 sends when none is given.
func defaultScope(r *api.Route, gotVia bool) string {
	switch {
	case r.Family == 6:
		return "global"
	case r.Type == "local":
		return "host"
	case r.Type == "broadcast":
		return "link"
	case r.Type == "unicast" && !gotVia && len(r.Nexthops) == 0:
		return "link"
	}
	return "global"
}

// parseVia reads "[inet|inet6] ADDR" after via. Without a family word the
// address must be of the route's family (if known); with one, it may
// differ (an IPv4 route via an IPv6 gateway).
func parseVia(p *args, family int) (string, int, error) {
	v, err := p.next()
	if err != nil {
		return "", 0, err
	}
	viaFam := family
	explicit := false
	switch v {
	case "inet", "inet6":
		viaFam, explicit = 4, true
		if v == "inet6" {
			viaFam = 6
		}
		if v, err = p.next(); err != nil {
			return "", 0, err
		}
	case "mpls", "bridge", "link", "ipx", "dnet":
		return "", 0, notSupported("via " + v)
	}
	ad, ok := parseAddr(v, viaFam)
	if !ok {
		return "", 0, addrExpected(viaFam, v)
	}
	fam := addrFamily(ad)
	if explicit && family != 0 {
		fam = family // the gateway's family does not decide the route's
	}
	return ad.String(), fam, nil
}

// parseNexthops reads "nexthop NH [nexthop NH]..." to the end of the line;
// p is at the first "nexthop".
func parseNexthops(p *args, family int) ([]api.Nexthop, int, error) {
	var nhs []api.Nexthop
	for p.more() {
		if p.cur() != "nexthop" {
			return nil, 0, errf(255, "Error: \"nexthop\" or end of line is expected instead of %q", p.cur())
		}
		if p.i+1 >= len(p.a) {
			return nil, 0, errf(255, `Error: unexpected end of line after "nexthop"`)
		}
		p.i++
		var nh api.Nexthop
	words:
		for ; p.more(); p.i++ {
			switch a := p.cur(); {
			case a == "via":
				via, fam, err := parseVia(p, family)
				if err != nil {
					return nil, 0, err
				}
				if family == 0 {
					family = fam
				}
				nh.Via = via
			case a == "dev":
				if err := p.nextTo(&nh.Dev); err != nil {
					return nil, 0, err
				}
			case a == "weight":
				v, err := p.next()
				if err != nil {
					return nil, 0, err
				}
				w, ok := parseU32(v)
				if !ok || w == 0 || w > 256 {
					return nil, 0, invarg(`"weight" is invalid`, v)
				}
				nh.Weight = int(w)
			case a == "onlink":
				nh.Onlink = true
			case a == "encap":
				e, err := parseEncap(p)
				if err != nil {
					return nil, 0, err
				}
				nh.Encap = e
			case a == "as" && family == api.FamilyMPLS:
				labels, err := parseAs(p)
				if err != nil {
					return nil, 0, err
				}
				nh.As = labels
			case matches(a, "realms") || a == "as":
				return nil, 0, notSupported(a)
			default:
				break words
			}
		}
		nhs = append(nhs, nh)
	}
	// The outer loop steps past the last word.
	p.i = len(p.a) - 1
	return nhs, family, nil
}

// ParseRouteFilter reads ip route show/flush's SELECTOR:
// [table ID|all] [dev NAME] [type TYPE] [[to] [exact] PREFIX].
// Without -4/-6 the family is that of the prefix, or IPv4 (as ip route
// show), or both for "table all" (as ip route show table all).
func ParseRouteFilter(argv []string, family int) (*api.Filter, error) {
	p := &args{a: argv}
	f := &api.Filter{}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case matches(a, "table"):
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			t, ok := parseTable(v, true)
			if !ok {
				if v == "help" {
					return nil, usageError("route")
				}
				return nil, invarg("table id value is invalid", v)
			}
			f.Table = t
		case matches(a, "type"):
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if !routeTypes[v] {
				return nil, invarg("node type value is invalid", v)
			}
			f.Type = v
		case a == "dev" || a == "oif":
			if err := p.nextTo(&f.Dev); err != nil {
				return nil, err
			}
		case matches(a, "vrf") || matches(a, "cached") || matches(a, "cloned") ||
			a == "tos" || matches(a, "dsfield") || matches(a, "protocol") ||
			matches(a, "scope") || a == "iif" || a == "mark" || a == "via" ||
			a == "src" || matches(a, "realms") || matches(a, "from"):
			return nil, notSupported(a)
		default:
			if matches(a, "to") {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if matches(a, "root") || matches(a, "match") {
				return nil, notSupported(a)
			}
			if matches(a, "exact") {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if a == "help" {
				return nil, usageError("route")
			}
			pfx, isDef, ok := parsePrefix(a, family)
			if !ok {
				return nil, prefixExpected(family, a)
			}
			if isDef {
				f.Prefix = "default"
			} else {
				f.Prefix = pfx.String()
				family = addrFamily(pfx.Addr())
			}
		}
	}
	if family == 0 && f.Table != api.TableAll {
		family = 4
	}
	f.Family = family
	return f, nil
}

// ParseRouteGet reads ip route get's arguments:
// [to] ADDR [from ADDR] [iif DEV] [oif DEV] [mark M] [ipproto P] [sport N] [dport N].
func ParseRouteGet(argv []string, family int) (*api.RouteGet, error) {
	p := &args{a: argv}
	g := &api.RouteGet{}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "from":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			ad, err := hostAddr(v, family)
			if err != nil {
				return nil, err
			}
			family = addrFamily(ad)
			g.From = ad.String()
		case a == "iif":
			if err := p.nextTo(&g.Iif); err != nil {
				return nil, err
			}
		case a == "oif" || a == "dev":
			if err := p.nextTo(&g.Oif); err != nil {
				return nil, err
			}
		case a == "mark":
			m, err := nextValue(p, parseU32, "invalid mark value")
			if err != nil {
				return nil, err
			}
			g.Mark = m
		case a == "ipproto":
			pr, err := nextValue(p, parseIPProto, `Invalid "ipproto" value`)
			if err != nil {
				return nil, err
			}
			g.IPProto = pr
		case a == "sport" || a == "dport":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			n, ok := parseUint(v, 16)
			if !ok {
				return nil, invarg("invalid "+a, v)
			}
			if a == "sport" {
				g.Sport = uint16(n)
			} else {
				g.Dport = uint16(n)
			}
		case a == "tos" || matches(a, "dsfield") || matches(a, "vrf") || a == "uid" ||
			matches(a, "connected") || a == "fibmatch" || a == "as":
			return nil, notSupported(a)
		default:
			if a == "to" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if matches(a, "help") {
				return nil, usageError("route")
			}
			// iproute2 takes the last destination given.
			ad, err := hostAddr(a, family)
			if err != nil {
				return nil, err
			}
			family = addrFamily(ad)
			g.Dst = ad.String()
		}
	}
	if g.Dst == "" {
		return nil, errf(1, "need at least a destination address")
	}
	return g, nil
}

// hostAddr reads an address where iproute2 reads a prefix (route get):
// a length is allowed but ignored.
func hostAddr(v string, family int) (netip.Addr, error) {
	pfx, isDef, ok := parsePrefix(v, family)
	if !ok || isDef {
		return netip.Addr{}, prefixExpected(family, v)
	}
	return pfx.Addr(), nil
}

// ---- rule ----

func buildRule(command string, argv []string, family int) (*api.Request, error) {
	switch command {
	case "add", "delete":
		r, err := ParseRule(argv, family, command == "delete")
		if err != nil {
			return nil, err
		}
		op := api.OpRuleAdd
		if command == "delete" {
			op = api.OpRuleDel
		}
		return &api.Request{Op: op, Rule: r}, nil
	case "show":
		if len(argv) > 0 {
			if argv[0] == "help" {
				return nil, usageError("rule")
			}
			return nil, notSupported("rule show " + argv[0])
		}
		if family == 0 {
			family = 4
		}
		return &api.Request{Op: api.OpRuleShow, Filter: &api.Filter{Family: family}}, nil
	}
	return nil, unknownCommand("rule", command)
}

// ParseRule reads ip rule's SELECTOR and ACTION:
//
//	[not] [from PREFIX|all] [to PREFIX|all] [iif DEV] [oif DEV] [fwmark M[/MASK]]
//	[tun_id N] [priority|pref|order N] [lookup|table ID | blackhole|unreachable|prohibit | nop | goto PRIO]
//
// Family: -4/-6, else that of the prefixes, else IPv4. For add, the
// action defaults to "lookup main"; a fwmark without a mask gets the full
// mask (as the kernel gives it).
func ParseRule(argv []string, family int, del bool) (*api.Rule, error) {
	p := &args{a: argv}
	r := &api.Rule{}
	var gotTable bool
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "not":
			r.Not = true
		case a == "from" || a == "to":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			pfx, isDef, ok := parsePrefix(v, family)
			if !ok {
				return nil, prefixExpected(family, v)
			}
			s := ""
			if !isDef {
				s = pfx.String()
				family = addrFamily(pfx.Addr())
			}
			if a == "from" {
				r.From = s
			} else {
				r.To = s
			}
		case matches(a, "preference") || matches(a, "order") || matches(a, "priority"):
			n, err := nextValue(p, parseU32, "preference value is invalid")
			if err != nil {
				return nil, err
			}
			r.Priority, r.SetPriority = n, true
		case a == "fwmark":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			markText, maskText, hasMask := strings.Cut(v, "/")
			m, ok := parseU32(markText)
			if !ok {
				return nil, invarg("fwmark value is invalid", markText)
			}
			mask := uint32(0xFFFFFFFF)
			if hasMask {
				if mask, ok = parseU32(maskText); !ok {
					return nil, invarg("fwmask value is invalid", maskText)
				}
			}
			r.FwMark, r.FwMask = m, mask
		case matches(a, "table") || a == "lookup":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			t, ok := parseTable(v, false)
			if !ok {
				return nil, invarg("invalid table ID", v)
			}
			r.Table, gotTable = t, true
			r.Action = "lookup"
		case a == "dev" || a == "iif":
			if err := p.nextTo(&r.Iif); err != nil {
				return nil, err
			}
		case a == "oif":
			if err := p.nextTo(&r.Oif); err != nil {
				return nil, err
			}
		case a == "tun_id":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			n, ok := parseUint(v, 64)
			if !ok {
				return nil, invarg(`"tun_id" value is invalid`, v)
			}
			r.TunID = n
		case a == "tos" || matches(a, "dsfield") || matches(a, "realms") ||
			matches(a, "protocol") || matches(a, "suppress_prefixlength") ||
			matches(a, "suppress_ifgroup") || a == "l3mdev" || a == "uidrange" ||
			matches(a, "nat") || matches(a, "map-to") || a == "ipproto" ||
			a == "sport" || a == "dport":
			return nil, notSupported(a)
		case a == "goto":
			var v string
			if err := p.nextTo(&v); err != nil {
				return nil, err
			}
			n, err := strconv.ParseUint(v, 0, 32)
			if err != nil {
				return nil, invarg("invalid target", v)
			}
			r.Action, r.Goto = "goto", uint32(n)
		case a == "nop":
			r.Action = "nop" // FR_ACT_NOP: the rule matches and does nothing
		case a == "help":
			return nil, usageError("rule")
		default:
			if matches(a, "type") {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			switch a {
			case "blackhole", "unreachable", "prohibit":
				r.Action = a
			case "unicast":
				r.Action = "lookup"
			default:
				return nil, invarg("Failed to parse rule type", a)
			}
		}
	}
	if family == 0 {
		family = 4
	}
	r.Family = family
	if del {
		return r, nil
	}
	if r.Action == "" {
		r.Action = "lookup"
	}
	if r.Action == "lookup" && !gotTable {
		r.Table = api.TableMain
	}
	if r.Action != "lookup" && gotTable {
		return nil, errf(255, "Error: a %s rule has no table.", r.Action)
	}
	return r, nil
}

// ---- neighbour ----

func buildNeigh(command string, argv []string, family int) (*api.Request, error) {
	switch command {
	case "add", "replace", "change", "delete":
		n, err := ParseNeigh(argv, family, command == "delete")
		if err != nil {
			return nil, err
		}
		op := map[string]string{"add": api.OpNeighAdd, "replace": api.OpNeighReplace,
			"change": api.OpNeighChange, "delete": api.OpNeighDel}[command]
		return &api.Request{Op: op, Neigh: n}, nil
	case "show", "flush":
		f, err := ParseNeighFilter(argv, family, command == "flush")
		if err != nil {
			return nil, err
		}
		op := api.OpNeighShow
		if command == "flush" {
			op = api.OpNeighFlush
		}
		return &api.Request{Op: op, Filter: f}, nil
	}
	return nil, unknownCommand("neighbour", command)
}

// ParseNeigh reads "[to] ADDR [lladdr MAC] dev DEV [nud STATE] [router]".
// For add, replace and change the state defaults to PERMANENT.
func ParseNeigh(argv []string, family int, del bool) (*api.Neigh, error) {
	p := &args{a: argv}
	n := &api.Neigh{}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "lladdr":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if err := lladdrArg(&n.LLAddr)(v); err != nil {
				return nil, err
			}
		case a == "nud":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			st, ok := nudStates[v]
			if !ok {
				return nil, invarg("nud state is bad", v)
			}
			n.State = st
		case a == "dev":
			if err := p.nextTo(&n.Dev); err != nil {
				return nil, err
			}
		case a == "router":
			n.Router = true
		case a == "proxy" || a == "extern_learn" || a == "managed" || a == "use" ||
			a == "protocol" || a == "vrf":
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("neighbour")
		default:
			if a == "to" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if n.Dst != "" {
				return nil, duparg2("to", a)
			}
			ad, ok := parseAddr(a, family)
			if !ok {
				return nil, addrExpected(family, a)
			}
			n.Dst = ad.String()
		}
	}
	if n.Dev == "" || n.Dst == "" {
		return nil, errf(255, "Device and destination are required arguments.")
	}
	if !del && n.State == "" {
		n.State = "PERMANENT"
	}
	return n, nil
}

// ParseNeighFilter reads "[dev DEV] [nud STATE|all] [[to] PREFIX]" for
// neigh show and flush. Without nud, State is "" and the printer hides
// NOARP entries (as ip does); "nud all" leaves State "all", which run
// turns into "" (every state) before sending and which shows NOARP too.
func ParseNeighFilter(argv []string, family int, flush bool) (*api.Filter, error) {
	if flush && len(argv) == 0 {
		return nil, errf(1, "Flush requires arguments.")
	}
	p := &args{a: argv}
	f := &api.Filter{Family: family}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "dev":
			if err := p.nextTo(&f.Dev); err != nil {
				return nil, err
			}
		case a == "nud":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if v == "all" {
				f.State = "all"
				continue
			}
			st, ok := nudStates[v]
			if !ok {
				return nil, invarg("nud state is bad", v)
			}
			f.State = st
		case a == "proxy" || a == "vrf" || a == "nomaster" || a == "unused" || a == "master":
			return nil, notSupported(a)
		case a == "help":
			return nil, usageError("neighbour")
		default:
			if a == "to" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			pfx, isDef, ok := parsePrefix(a, family)
			if !ok {
				return nil, prefixExpected(family, a)
			}
			if !isDef {
				f.Prefix = pfx.String()
			}
		}
	}
	return f, nil
}
