package main

// Words and numbers of the iproute2 grammar: table, protocol, scope and
// route-type names, neighbour states, errno texts, and number, address and
// prefix parsing with iproute2's leniencies (C-style base-0 numbers,
// "10/8" for 10.0.0.0/8, dotted netmasks, "2:0:0:0:0:9" for a MAC).

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"flowpath/api"
)

// matches reports whether arg abbreviates word, as iproute2's matches()
// does: any non-empty prefix of word.
func matches(arg, word string) bool {
	return arg != "" && strings.HasPrefix(word, arg)
}

// parseUint parses like C's strtoul with base 0 (decimal, 0x hex, 0
// octal), which is what iproute2 uses for most numbers, and rejects what
// strtoul would not take (Go's "0b", "0o" and '_' separators, signs).
func parseUint(s string, bits int) (uint64, bool) {
	if s == "" || strings.ContainsAny(s, "_+-") {
		return 0, false
	}
	ls := strings.ToLower(s)
	if strings.HasPrefix(ls, "0b") || strings.HasPrefix(ls, "0o") {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 0, bits)
	return v, err == nil
}

func parseU32(s string) (uint32, bool) {
	v, ok := parseUint(s, 32)
	return uint32(v), ok
}

// Table names (iproute2's rt_tables defaults).
var tableNames = map[string]uint32{
	"default": api.TableDefault,
	"main":    api.TableMain,
	"local":   api.TableLocal,
}

// parseTable accepts a table name or number; "all" only where allowAll.
func parseTable(s string, allowAll bool) (uint32, bool) {
	if t, ok := tableNames[s]; ok {
		return t, true
	}
	if s == "all" {
		return api.TableAll, allowAll
	}
	return parseU32(s)
}

// tableName prints a table like iproute2 (0 is main in this API).
func tableName(t uint32) string {
	switch t {
	case 0, api.TableMain:
		return "main"
	case api.TableLocal:
		return "local"
	case api.TableDefault:
		return "default"
	}
	return strconv.FormatUint(uint64(t), 10)
}

// Route protocols (iproute2's rt_protos). The API keeps "kernel", "boot"
// and "static" as names and any other protocol as its number.
var protoNames = []struct {
	num  uint8
	name string
}{
	{0, "unspec"}, {1, "redirect"}, {2, "kernel"}, {3, "boot"}, {4, "static"},
	{8, "gated"}, {9, "ra"}, {10, "mrt"}, {11, "zebra"}, {12, "bird"},
	{13, "dnrouted"}, {14, "xorp"}, {15, "ntk"}, {16, "dhcp"}, {17, "mrouted"},
	{18, "keepalived"}, {42, "babel"}, {99, "openr"}, {186, "bgp"}, {187, "isis"},
	{188, "ospf"}, {189, "rip"}, {192, "eigrp"},
}

// parseProto returns the API form of a protocol name or number.
func parseProto(s string) (string, bool) {
	num := -1
	for _, p := range protoNames {
		if p.name == s {
			num = int(p.num)
		}
	}
	if num < 0 {
		v, ok := parseUint(s, 8)
		if !ok {
			return "", false
		}
		num = int(v)
	}
	switch num {
	case 2:
		return "kernel", true
	case 3:
		return "boot", true
	case 4:
		return "static", true
	}
	return strconv.Itoa(num), true
}

// protoName prints a protocol like iproute2: numbers it knows by name.
func protoName(p string) string {
	if p == "" {
		return "boot"
	}
	if v, err := strconv.ParseUint(p, 10, 8); err == nil {
		for _, n := range protoNames {
			if uint64(n.num) == v {
				return n.name
			}
		}
	}
	return p
}

// Scopes (iproute2's rt_scopes).
var scopeNames = map[string]uint8{"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}

// parseScope returns the API form of a scope: a name for global, link and
// host, the number otherwise.
func parseScope(s string) (string, bool) {
	v, ok := scopeNames[s]
	if !ok {
		n, ok := parseUint(s, 8)
		if !ok {
			return "", false
		}
		v = uint8(n)
	}
	switch v {
	case 0:
		return "global", true
	case 253:
		return "link", true
	case 254:
		return "host", true
	case 200:
		return "site", true
	case 255:
		return "nowhere", true
	}
	return strconv.Itoa(int(v)), true
}

// Route types flowpath implements.
var routeTypes = map[string]bool{
	"unicast": true, "local": true, "broadcast": true, "blackhole": true,
	"unreachable": true, "prohibit": true, "throw": true,
}

// Neighbour states iproute2 accepts after "nud".
var nudStates = map[string]string{
	"permanent": "PERMANENT", "reachable": "REACHABLE", "noarp": "NOARP",
	"none": "NONE", "stale": "STALE", "incomplete": "INCOMPLETE",
	"delay": "DELAY", "probe": "PROBE", "failed": "FAILED",
}

// IP protocols route get accepts by name. tcp, udp and icmp travel as
// names (the API's form); the others as numbers.
var ipProtos = map[string]int{
	"icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47, "esp": 50, "ah": 51,
	"icmpv6": 58, "ipv6-icmp": 58, "sctp": 132, "udplite": 136,
}

func parseIPProto(s string) (string, bool) {
	if s == "tcp" || s == "udp" || s == "icmp" {
		return s, true
	}
	if v, ok := ipProtos[s]; ok {
		return strconv.Itoa(v), true
	}
	v, ok := parseUint(s, 8)
	if !ok {
		return "", false
	}
	switch v {
	case 1:
		return "icmp", true
	case 6:
		return "tcp", true
	case 17:
		return "udp", true
	}
	return strconv.FormatUint(v, 10), true
}

// strerror is glibc's text for the errno names the daemon reports.
var strerror = map[string]string{
	"EEXIST":          "File exists",
	"ESRCH":           "No such process",
	"ENOENT":          "No such file or directory",
	"ENODEV":          "No such device",
	"EINVAL":          "Invalid argument",
	"EOPNOTSUPP":      "Operation not supported",
	"ERANGE":          "Numerical result out of range",
	"ENETUNREACH":     "Network is unreachable",
	"EHOSTUNREACH":    "No route to host",
	"EBUSY":           "Device or resource busy",
	"ENOSPC":          "No space left on device",
	"EADDRINUSE":      "Address already in use",
	"EAFNOSUPPORT":    "Address family not supported by protocol",
	"EPERM":           "Operation not permitted",
	"ENETDOWN":        "Network is down",
	"EADDRNOTAVAIL":   "Cannot assign requested address",
	"ENOMEM":          "Cannot allocate memory",
	"ENOBUFS":         "No buffer space available",
	"EAGAIN":          "Resource temporarily unavailable",
	"EACCES":          "Permission denied",
	"EMSGSIZE":        "Message too long",
	"EIO":             "Input/output error",
	"ENXIO":           "No such device or address",
	"EPROTONOSUPPORT": "Protocol not supported",
	"ETIMEDOUT":       "Connection timed out",
	"ENOTEMPTY":       "Directory not empty",
	"EMLINK":          "Too many links",
}

// familyName is iproute2's word for a family in "X address is expected".
func familyName(fam int) string {
	switch fam {
	case 4:
		return "inet"
	case 6:
		return "inet6"
	case api.FamilyMPLS:
		return "mpls"
	}
	return "any valid"
}

func addrFamily(a netip.Addr) int {
	if a.Is4() {
		return 4
	}
	return 6
}

// parseIPv4 reads an IPv4 address the way iproute2 does: one to four
// dot-separated parts, each a C number (so "10" is 10.0.0.0 and "0x0a.1"
// is 10.1.0.0), missing parts zero.
func parseIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		v, ok := parseUint(p, 8)
		if !ok {
			return netip.Addr{}, false
		}
		b[i] = byte(v)
	}
	return netip.AddrFrom4(b), true
}

// parseAddr reads an address of family fam (0: either). A zone is not
// an address.
func parseAddr(s string, fam int) (netip.Addr, bool) {
	var a netip.Addr
	if strings.Contains(s, ":") {
		var err error
		a, err = netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || !a.Is6() {
			return netip.Addr{}, false
		}
	} else {
		var ok bool
		if a, ok = parseIPv4(s); !ok {
			return netip.Addr{}, false
		}
	}
	if fam != 0 && addrFamily(a) != fam {
		return netip.Addr{}, false
	}
	return a, true
}

// parsePrefix reads ADDR[/LEN] of family fam (0: either); an IPv4 length
// may be a dotted netmask. "default", "all" and "any" are the zero-length
// prefix of family fam (ok, but not valid, when fam is 0: the caller
// decides). Host bits are kept: the daemon judges "10.1.2.3/8".
func parsePrefix(s string, fam int) (p netip.Prefix, isDefault bool, ok bool) {
	if s == "default" || s == "all" || s == "any" {
		switch fam {
		case 4:
			return netip.PrefixFrom(netip.IPv4Unspecified(), 0), true, true
		case 6:
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0), true, true
		}
		return netip.Prefix{}, true, true
	}
	addrPart, lenPart, hasLen := strings.Cut(s, "/")
	a, ok := parseAddr(addrPart, fam)
	if !ok {
		return netip.Prefix{}, false, false
	}
	bits := a.BitLen()
	if hasLen {
		n, ok := parseUint(lenPart, 8)
		if !ok && a.Is4() && strings.Contains(lenPart, ".") {
			n, ok = netmaskLen(lenPart)
		}
		if !ok || int(n) > a.BitLen() {
			return netip.Prefix{}, false, false
		}
		bits = int(n)
	}
	return netip.PrefixFrom(a, bits), false, true
}

// netmaskLen turns a contiguous dotted netmask into a length.
func netmaskLen(s string) (uint64, bool) {
	m, err := netip.ParseAddr(s)
	if err != nil || !m.Is4() {
		return 0, false
	}
	b := m.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := uint64(0)
	for v&0x80000000 != 0 {
		n++
		v <<= 1
	}
	if v != 0 {
		return 0, false
	}
	return n, true
}

// parseMAC reads an Ethernet address as iproute2 does: six colon-separated
// hex bytes of one or two digits. It returns the canonical form.
func parseMAC(s string) (string, bool) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return "", false
	}
	var b strings.Builder
	for i, p := range parts {
		if len(p) < 1 || len(p) > 2 {
			return "", false
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return "", false
		}
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", v)
	}
	return b.String(), true
}

// showPrefix prints a prefix like iproute2: a host route without its
// length, the zero prefix as "default".
func showPrefix(s string) string {
	if s == "" || s == "default" {
		return "default"
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return s
	}
	if p.Bits() == p.Addr().BitLen() {
		return p.Addr().String()
	}
	return s
}

// textFamily guesses the family of an address or prefix in API text.
func textFamily(s string) int {
	if strings.Contains(s, ":") {
		return 6
	}
	if s == "" || s == "default" {
		return 0
	}
	return 4
}
