package main

// The tunnel grammar: ip link add ... type vxlan|geneve, bridge fdb,
// ip route ... encap, and MPLS label routes (ip -f mpls route). Like
// grammar.go it does no I/O; keywords are tried in iproute2's order, so
// its abbreviations mean the same here.

import (
	"strconv"
	"strings"

	"flowpath/api"
)

// vxlanMaxVNI bounds a VNI (24 bits).
const vxlanMaxVNI = 1 << 24

// mplsMaxLabel is the largest 20-bit label.
const mplsMaxLabel = 1<<20 - 1

// resolveWord returns the first of words that a abbreviates (iproute2's
// chain of matches() tests), or "".
func resolveWord(a string, words []string) string {
	for _, w := range words {
		if matches(a, w) {
			return w
		}
	}
	return ""
}

// vxlanWords are ip link's vxlan keywords in the order iproute2 tries them.
var vxlanWords = []string{"id", "vni", "group", "remote", "local", "dev", "ttl", "hoplimit",
	"tos", "dsfield", "df", "label", "flowlabel", "ageing", "maxaddress", "port", "srcport",
	"dstport", "nolearning", "learning", "noproxy", "proxy", "norsc", "rsc", "nol2miss",
	"l2miss", "nol3miss", "l3miss", "udpcsum", "noudpcsum", "udp6zerocsumtx",
	"noudp6zerocsumtx", "udp6zerocsumrx", "noudp6zerocsumrx", "remcsumtx", "noremcsumtx",
	"remcsumrx", "noremcsumrx", "external", "noexternal", "gbp", "gpe", "help"}

// parseDSField reads a TOS the way iproute2's rtnl_dsfield_a2n does: a
// hexadecimal number (with or without 0x) up to 255.
func parseDSField(s string) (uint8, bool) {
	t := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	if t == "" || strings.ContainsAny(t, "_+-") {
		return 0, false
	}
	v, err := strconv.ParseUint(t, 16, 8)
	return uint8(v), err == nil
}

// parseTTL reads "auto", "inherit" or a number up to 255.
func parseTTL(v string) (ttl uint8, inherit bool, err error) {
	switch v {
	case "inherit":
		return 0, true, nil
	case "auto":
		return 0, false, nil
	}
	n, ok := parseUint(v, 32)
	if !ok {
		return 0, false, invarg("invalid TTL", v)
	}
	if n > 255 {
		return 0, false, invarg("TTL must be <= 255", v)
	}
	return uint8(n), false, nil
}

// attrs is iproute2's check_duparg: the attributes already given, each
// of which may be given once (a keyword and its alias set the same one).
type attrs map[string]bool

// once marks attr given; a second time is duparg2's error for key and arg.
func (seen attrs) once(attr, key, arg string) error {
	if seen[attr] {
		return duparg2(key, arg)
	}
	seen[attr] = true
	return nil
}

// arg moves p to the argument of keyword key, which sets attr.
func (seen attrs) arg(p *args, attr, key string) (string, error) {
	s, err := p.next()
	if err != nil {
		return "", err
	}
	return s, seen.once(attr, key, s)
}

// parseVXLAN reads the arguments of "type vxlan" (iproute2's
// vxlan_parse_opt) into l.VXLAN.
func parseVXLAN(l *api.Link, p *args) error {
	v := &api.VXLAN{}
	seen := attrs{}
	var gotID bool
	addrFam := 0 // the family the first of remote/group/local fixed
	readAddr := func(s string) (string, bool, error) {
		ad, ok := parseAddr(s, addrFam)
		if !ok {
			return "", false, addrExpected(addrFam, s)
		}
		addrFam = addrFamily(ad)
		return ad.String(), ad.IsMulticast(), nil
	}
	for ; p.more(); p.i++ {
		a := p.cur()
		w := resolveWord(a, vxlanWords)
		if a == "localbypass" || a == "nolocalbypass" {
			w = a
		}
		switch w {
		case "id", "vni":
			s, err := seen.arg(p, "id", "id")
			if err != nil {
				return err
			}
			n, ok := parseU32(s)
			if !ok || n >= vxlanMaxVNI {
				return invarg("invalid id", s)
			}
			v.VNI, gotID = n, true
		case "group", "remote":
			if (w == "group" && v.Remote != "") || (w == "remote" && v.Group != "") {
				return errf(1, "vxlan: both group and remote cannot be specified")
			}
			s, err := seen.arg(p, "group", w)
			if err != nil {
				return err
			}
			ad, multi, err := readAddr(s)
			if err != nil {
				return err
			}
			if w == "group" {
				if !multi {
					return invarg("invalid group address", s)
				}
				v.Group = ad
			} else {
				if multi {
					return invarg("invalid remote address", s)
				}
				v.Remote = ad
			}
		case "local":
			s, err := seen.arg(p, "local", "local")
			if err != nil {
				return err
			}
			ad, multi, err := readAddr(s)
			if err != nil {
				return err
			}
			if multi {
				return invarg("invalid local address", s)
			}
			v.Local = ad
		case "dev":
			s, err := seen.arg(p, "dev", "dev")
			if err != nil {
				return err
			}
			v.Dev = s
		case "ttl", "hoplimit":
			s, err := seen.arg(p, "ttl", "ttl")
			if err != nil {
				return err
			}
			if v.TTL, v.TTLInherit, err = parseTTL(s); err != nil {
				return err
			}
		case "tos", "dsfield":
			s, err := seen.arg(p, "tos", "tos")
			if err != nil {
				return err
			}
			if s == "inherit" {
				v.TOS = 1
			} else {
				t, ok := parseDSField(s)
				if !ok {
					return invarg("bad TOS value", s)
				}
				v.TOS = t
			}
		case "ageing":
			s, err := seen.arg(p, "ageing", "ageing")
			if err != nil {
				return err
			}
			n, ok := parseU32(s)
			if s == "none" || (ok && n == 0) {
				// The API's 0 is the default (300 s): no ageing is not expressible.
				return notSupported("ageing " + s)
			}
			if !ok {
				return invarg("ageing timer", s)
			}
			v.Ageing = n
		case "maxaddress":
			s, err := seen.arg(p, "maxaddress", "maxaddress")
			if err != nil {
				return err
			}
			var n uint32
			if s != "unlimited" {
				var ok bool
				if n, ok = parseU32(s); !ok {
					return invarg("max addresses", s)
				}
			}
			v.MaxAddress = n
		case "port", "srcport":
			s, err := seen.arg(p, "srcport", "srcport")
			if err != nil {
				return err
			}
			lo, ok := parseUint(s, 16)
			if !ok {
				return invarg("min port", s)
			}
			if s, err = p.next(); err != nil {
				return err
			}
			hi, ok := parseUint(s, 16)
			if !ok {
				return invarg("max port", s)
			}
			v.SrcPortMin, v.SrcPortMax = uint16(lo), uint16(hi)
		case "dstport":
			s, err := seen.arg(p, "dstport", "dstport")
			if err != nil {
				return err
			}
			n, ok := parseUint(s, 16)
			if !ok {
				return invarg("dst port", s)
			}
			v.DstPort, v.SetDstPort = uint16(n), true
		case "learning", "nolearning":
			if err := seen.once("learning", a, a); err != nil {
				return err
			}
			on := w == "learning"
			v.Learning = &on
		case "udpcsum", "noudpcsum":
			if err := seen.once("udpcsum", a, a); err != nil {
				return err
			}
			on := w == "udpcsum"
			v.UDPCsum = &on
		case "localbypass", "nolocalbypass":
			if err := seen.once("localbypass", a, a); err != nil {
				return err
			}
			on := w == "localbypass"
			v.LocalBypass = &on
		case "external":
			if err := seen.once("external", a, a); err != nil {
				return err
			}
			v.External = true
		case "gbp":
			if err := seen.once("gbp", a, a); err != nil {
				return err
			}
			v.GBP = true
		case "help":
			return usageError("link")
		case "":
			return errf(1, "vxlan: unknown command %q?", a)
		default:
			return notSupported(w)
		}
	}
	if v.External {
		// iproute2 sends learning off with external, whatever was said.
		v.Learning = nil
	}
	switch {
	case v.External && gotID:
		return errf(1, "vxlan: both 'external' and vni cannot be specified")
	case !v.External && !gotID:
		return errf(1, "vxlan: missing virtual network identifier")
	case v.Group != "" && v.Dev == "":
		return errf(1, "vxlan: 'group' requires 'dev' to be specified")
	}
	l.VXLAN = v
	return nil
}

// vxlanPortWarning is what iproute2 prints on stderr when a vxlan link
// is added without dstport (the kernel then uses 8472, not IANA's 4789).
const vxlanPortWarning = `vxlan: destination port not specified
Will use Linux kernel default (non-standard value)
Use 'dstport 4789' to get the IANA assigned value
Use 'dstport 0' to get default and quiet this message
`

// warning is what a request prints on stderr before it is sent ("" for none).
func warning(req *api.Request) string {
	if req.Op == api.OpLinkAdd && req.Link != nil && req.Link.VXLAN != nil && !req.Link.VXLAN.SetDstPort {
		return vxlanPortWarning
	}
	return ""
}

// geneveWords are ip link's geneve keywords in iproute2's order.
var geneveWords = []string{"id", "vni", "remote", "ttl", "hoplimit", "tos", "dsfield", "df",
	"label", "flowlabel", "dstport", "external", "noexternal", "udpcsum", "noudpcsum",
	"udp6zerocsumtx", "noudp6zerocsumtx", "udp6zerocsumrx", "noudp6zerocsumrx", "innerprotoinherit", "help"}

// parseGeneve reads the arguments of "type geneve" (iproute2's
// geneve_parse_opt) into l.Geneve.
func parseGeneve(l *api.Link, p *args) error {
	g := &api.Geneve{}
	seen := attrs{}
	var gotID bool
	for ; p.more(); p.i++ {
		a := p.cur()
		w := resolveWord(a, geneveWords)
		switch w {
		case "id", "vni":
			s, err := seen.arg(p, "id", "id")
			if err != nil {
				return err
			}
			n, ok := parseU32(s)
			if !ok || n >= vxlanMaxVNI {
				return invarg("invalid id", s)
			}
			g.VNI, gotID = n, true
		case "remote":
			s, err := seen.arg(p, "remote", "remote")
			if err != nil {
				return err
			}
			ad, ok := parseAddr(s, 0)
			if !ok {
				return addrExpected(0, s)
			}
			if ad.IsMulticast() || ad.IsUnspecified() {
				return invarg("invalid remote address", s)
			}
			g.Remote = ad.String()
		case "ttl", "hoplimit":
			s, err := seen.arg(p, "ttl", "ttl")
			if err != nil {
				return err
			}
			if g.TTL, g.TTLInherit, err = parseTTL(s); err != nil {
				return err
			}
		case "tos", "dsfield":
			s, err := seen.arg(p, "tos", "tos")
			if err != nil {
				return err
			}
			if s == "inherit" {
				g.TOS = 1
			} else {
				t, ok := parseDSField(s)
				if !ok {
					return invarg("bad TOS value", s)
				}
				g.TOS = t
			}
		case "label", "flowlabel":
			s, err := seen.arg(p, "label", "flowlabel")
			if err != nil {
				return err
			}
			n, ok := parseU32(s)
			if !ok || n > 0xFFFFF {
				return invarg("invalid flowlabel", s)
			}
			g.Label = n
		case "dstport":
			s, err := seen.arg(p, "dstport", "dstport")
			if err != nil {
				return err
			}
			n, ok := parseUint(s, 16)
			if !ok {
				return invarg("dstport", s)
			}
			g.DstPort = uint16(n)
		case "external":
			if err := seen.once("external", a, a); err != nil {
				return err
			}
			g.External = true
		case "udpcsum", "noudpcsum":
			if err := seen.once("udpcsum", a, a); err != nil {
				return err
			}
			g.UDPCsum = w == "udpcsum"
		case "help":
			return usageError("link")
		case "":
			return errf(1, "geneve: unknown command %q?", a)
		default:
			return notSupported(w)
		}
	}
	if g.External && gotID {
		return errf(1, "geneve: both 'external' and vni cannot be specified")
	}
	if !g.External {
		if !gotID {
			return errf(1, "geneve: missing virtual network identifier")
		}
		if g.Remote == "" {
			return errf(1, "geneve: remote link partner not specified")
		}
	}
	l.Geneve = g
	return nil
}

// ---- fdb ----

func buildFDB(command string, argv []string, family int) (*api.Request, error) {
	switch command {
	case "add", "append", "replace", "delete":
		f, err := ParseFDB(argv, family, command == "delete")
		if err != nil {
			return nil, err
		}
		op := map[string]string{"add": api.OpFDBAdd, "append": api.OpFDBAppend,
			"replace": api.OpFDBReplace, "delete": api.OpFDBDel}[command]
		return &api.Request{Op: op, FDB: f}, nil
	case "show":
		f, err := parseFDBFilter(argv)
		if err != nil {
			return nil, err
		}
		return &api.Request{Op: api.OpFDBShow, Filter: f}, nil
	}
	return nil, unknownCommand("fdb", command)
}

// fdbWords are bridge fdb add's keywords in iproute2's order; exact ones
// are compared in full there.
var fdbWords = []struct {
	word  string
	exact bool
}{{"dev", true}, {"dst", true}, {"nhid", true}, {"self", true}, {"master", false},
	{"router", false}, {"local", false}, {"permanent", false}, {"temp", false},
	{"static", false}, {"dynamic", false}, {"vlan", false}, {"port", false},
	{"vni", false}, {"src_vni", false}, {"via", false}, {"use", true},
	{"extern_learn", false}, {"sticky", false}}

func fdbWord(a string) string {
	for _, w := range fdbWords {
		if a == w.word || (!w.exact && matches(a, w.word)) {
			return w.word
		}
	}
	return ""
}

// ParseFDB reads bridge fdb add/append/replace/del's arguments:
//
//	LLADDR dev DEV [dst IP] [port P] [vni V] [via DEV] [self] [permanent|static|dynamic]
//
// For a change without a state the entry is permanent (as bridge assumes).
func ParseFDB(argv []string, family int, del bool) (*api.FDB, error) {
	p := &args{a: argv}
	f := &api.FDB{}
	var addr string
	var gotDst bool
	for ; p.more(); p.i++ {
		a := p.cur()
		switch w := fdbWord(a); w {
		case "dev":
			if err := p.nextTo(&f.Dev); err != nil {
				return nil, err
			}
		case "dst":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if gotDst {
				return nil, duparg2("dst", v)
			}
			ad, ok := parseAddr(v, family)
			if !ok {
				return nil, addrExpected(family, v)
			}
			f.Dst, gotDst = ad.String(), true
		case "self":
		case "local", "permanent":
			f.State = "permanent"
		case "temp", "static":
			f.State = "static"
		case "dynamic":
			f.State = "dynamic"
		case "port":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			n, ok := parseUint(v, 16)
			if !ok {
				return nil, invarg("invalid port", v)
			}
			f.Port = uint16(n)
		case "vni":
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			n, ok := parseU32(v)
			if !ok || n >= vxlanMaxVNI {
				return nil, invarg("invalid VNI", v)
			}
			f.VNI, f.SetVNI = n, true
		case "via":
			if err := p.nextTo(&f.Via); err != nil {
				return nil, err
			}
		case "":
			if a == "to" {
				if err := p.nextTo(&a); err != nil {
					return nil, err
				}
			}
			if matches(a, "help") {
				return nil, usageError("fdb")
			}
			if addr != "" {
				return nil, duparg2("to", a)
			}
			addr = a
		default:
			return nil, notSupported(w)
		}
	}
	if f.Dev == "" || addr == "" {
		return nil, errf(255, "Device and address are required arguments.")
	}
	mac, ok := parseMAC(addr)
	if !ok {
		return nil, errf(255, "Invalid mac address %s", addr)
	}
	f.MAC = mac
	if !del && f.State == "" {
		f.State = "permanent"
	}
	return f, nil
}

// parseFDBFilter reads bridge fdb show's "[dev DEV]" (brport is the same
// for a VXLAN device).
func parseFDBFilter(argv []string) (*api.Filter, error) {
	p := &args{a: argv}
	f := &api.Filter{}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "dev" || matches(a, "brport"):
			v, err := p.next()
			if err != nil {
				return nil, err
			}
			if f.Dev != "" {
				return nil, duparg("dev", v)
			}
			f.Dev = v
		case matches(a, "br") || matches(a, "vlan") || matches(a, "state") || matches(a, "dynamic"):
			return nil, notSupported(a)
		case matches(a, "help"):
			return nil, usageError("fdb")
		default:
			return nil, errf(255, "Error: either \"dev\" is duplicate, or %q is a garbage.", a)
		}
	}
	return f, nil
}

// ---- encap ----

// parseEncap reads "encap TYPE ARGS" (iproute2's lwt_parse_encap); p is
// at "encap" and is left at the last word the encapsulation took.
func parseEncap(p *args) (*api.Encap, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	switch t {
	case "mpls":
		return parseEncapMPLS(p)
	case "ip", "ip6":
		return parseEncapIP(p, t)
	case "ila", "bpf", "seg6", "seg6local", "rpl", "ioam6", "xfrm":
		return nil, notSupported("encap " + t)
	}
	return nil, invarg(`"encap type" value is invalid`, t)
}

// peek is the word after the current one, or "".
func (p *args) peek() string {
	if p.i+1 < len(p.a) {
		return p.a[p.i+1]
	}
	return ""
}

func parseEncapMPLS(p *args) (*api.Encap, error) {
	v, err := p.next()
	if err != nil {
		return nil, err
	}
	labels, ok := parseLabels(v)
	if !ok {
		return nil, errf(1, "Error: an inet address is expected rather than %q.", v)
	}
	e := &api.Encap{Type: "mpls", Labels: labels}
	gotTTL := false
	for p.peek() == "ttl" {
		p.i++
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		if gotTTL {
			return nil, duparg2("ttl", v)
		}
		n, ok := parseUint(v, 8)
		if !ok {
			return nil, invarg(`"ttl" value is invalid`, v)
		}
		e.TTL, e.SetTTL, gotTTL = uint8(n), true, true
	}
	return e, nil
}

// parseEncapIP reads the arguments of encap ip and encap ip6 up to the
// first word that is not one of theirs.
func parseEncapIP(p *args, typ string) (*api.Encap, error) {
	fam, ttlWord, tosWord := 4, "ttl", "tos"
	if typ == "ip6" {
		fam, ttlWord, tosWord = 6, "hoplimit", "tc"
	}
	e := &api.Encap{Type: typ}
	seen := map[string]bool{}
	for {
		kw := p.peek()
		switch kw {
		case "id", "dst", "src", ttlWord, tosWord, "geneve_opts", "vxlan_opts", "erspan_opts", "key", "csum", "seq":
		default:
			return e, nil
		}
		p.i++
		if kw == "key" || kw == "csum" || kw == "seq" {
			if seen[kw] {
				return nil, duparg2(kw, kw)
			}
			seen[kw] = true
			e.Flags = append(e.Flags, kw)
			continue
		}
		isOpts := strings.HasSuffix(kw, "_opts")
		dupKey := kw
		if isOpts {
			dupKey = "opts"
			if seen[dupKey] {
				return nil, duparg2("opts", kw)
			}
		}
		v, err := p.next()
		if err != nil {
			return nil, err
		}
		if seen[dupKey] {
			return nil, duparg2(kw, v)
		}
		seen[dupKey] = true
		switch kw {
		case "id":
			n, ok := parseUint(v, 64)
			if !ok {
				return nil, invarg(`"id" value is invalid`, v)
			}
			e.ID = n
		case "dst", "src":
			ad, ok := parseAddr(v, fam)
			if !ok {
				return nil, addrExpected(fam, v)
			}
			if kw == "dst" {
				e.Dst = ad.String()
			} else {
				e.Src = ad.String()
			}
		case ttlWord:
			n, ok := parseUint(v, 8)
			if !ok {
				return nil, invarg(`"`+kw+`" value is invalid`, v)
			}
			e.TTL = uint8(n)
		case tosWord:
			n, ok := parseDSField(v)
			if !ok {
				return nil, invarg(`"`+kw+`" value is invalid`, v)
			}
			e.TOS = n
		case "geneve_opts":
			if !validGeneveOpts(v) {
				return nil, invarg(`"geneve_opts" value is invalid`, v)
			}
			e.GeneveOpts = v
		case "vxlan_opts":
			n, ok := parseU32(v)
			if !ok {
				return nil, invarg(`"vxlan_opts" value is invalid`, v)
			}
			e.VXLANOpts, e.SetVXLANOpts = n, true
		case "erspan_opts":
			return nil, notSupported("erspan_opts")
		}
	}
}

// validGeneveOpts checks what iproute2 checks before sending
// geneve_opts: each CLASS:TYPE:DATA has at most three parts, a 16-bit
// class, an 8-bit type and hex data of whole bytes. Empty parts pass (the
// daemon refuses them, as the kernel does).
func validGeneveOpts(s string) bool {
	for _, opt := range strings.Split(s, ",") {
		parts := strings.Split(opt, ":")
		if len(parts) > 3 {
			return false
		}
		if parts[0] != "" {
			if _, ok := parseUint(parts[0], 16); !ok {
				return false
			}
		}
		if len(parts) > 1 && parts[1] != "" {
			if _, ok := parseUint(parts[1], 8); !ok {
				return false
			}
		}
		if len(parts) > 2 {
			d := parts[2]
			if len(d)%2 != 0 {
				return false
			}
			for _, c := range d {
				if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
					return false
				}
			}
		}
	}
	return true
}

// ---- MPLS ----

// parseLabels reads a label stack "L1[/L2...]", each a C number of at
// most 20 bits.
func parseLabels(s string) ([]uint32, bool) {
	var out []uint32
	for _, part := range strings.Split(s, "/") {
		n, ok := parseUint(part, 32)
		if !ok || n > mplsMaxLabel {
			return nil, false
		}
		out = append(out, uint32(n))
	}
	return out, true
}

// parseAs reads "as [to] L1[/L2...]"; p is at "as".
func parseAs(p *args) ([]uint32, error) {
	v, err := p.next()
	if err != nil {
		return nil, err
	}
	if v == "to" {
		if v, err = p.next(); err != nil {
			return nil, err
		}
	}
	labels, ok := parseLabels(v)
	if !ok {
		return nil, addrExpected(api.FamilyMPLS, v)
	}
	return labels, nil
}

// ParseMPLSRoute reads ip -f mpls route add/del's arguments:
//
//	[to] LABEL [as [to] L1[/L2...]] [via inet|inet6 ADDR] [dev DEV]
//	[nexthop [as L1[/L2...]] via inet|inet6 ADDR dev DEV]...
//
// into a route of FamilyMPLS whose Dst is the incoming label.
func ParseMPLSRoute(argv []string) (*api.Route, error) {
	p := &args{a: argv}
	r := &api.Route{Family: api.FamilyMPLS}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "as":
			labels, err := parseAs(p)
			if err != nil {
				return nil, err
			}
			r.As = labels
		case a == "via":
			if r.Via != "" {
				return nil, invarg("use nexthop syntax to specify multiple via", a)
			}
			via, _, err := parseVia(p, api.FamilyMPLS)
			if err != nil {
				return nil, err
			}
			r.Via = via
		case a == "dev" || a == "oif":
			if err := p.nextTo(&r.Dev); err != nil {
				return nil, err
			}
		case a == "nexthop":
			nhs, _, err := parseNexthops(p, api.FamilyMPLS)
			if err != nil {
				return nil, err
			}
			r.Nexthops = nhs
		case a == "encap":
			return nil, notSupported("encap")
		case routeWord(a) != "":
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
			if r.Dst != "" {
				return nil, duparg2("to", a)
			}
			l, ok := parseLabels(a)
			if !ok || len(l) != 1 {
				return nil, prefixExpected(api.FamilyMPLS, a)
			}
			r.Dst = strconv.FormatUint(uint64(l[0]), 10)
		}
	}
	if r.Dst == "" {
		return nil, usageError("route")
	}
	return r, nil
}

// parseMPLSFilter reads ip -f mpls route show's "[dev DEV]".
func parseMPLSFilter(argv []string) (*api.Filter, error) {
	p := &args{a: argv}
	f := &api.Filter{Family: api.FamilyMPLS}
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case a == "dev" || a == "oif":
			if err := p.nextTo(&f.Dev); err != nil {
				return nil, err
			}
		case matches(a, "help"):
			return nil, usageError("route")
		default:
			return nil, notSupported(a)
		}
	}
	return f, nil
}
