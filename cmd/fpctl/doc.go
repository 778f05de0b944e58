// Command fpctl configures flowpathd with iproute2's grammar and prints
// what it shows the way ip does, so that people, and scripts, written
// for ip work with flowpath unchanged.
//
//	fpctl [--socket PATH] [-4|-6] [-s] [-d] [-j [-p]] OBJECT COMMAND ARGS...
//	        │                                          │      │       │
//	        parseOptions (ip-style, before the object) │      │       │
//	                        cobra: objects and commands, with ip's abbreviations
//	                                              grammar.go: ARGS → api.Request
//	        api.Client ──► flowpathd ──► api.Response ──► print.go (ip's text) or JSON
//
// It talks to the daemon only through package api (one JSON request per
// line on a unix socket). Objects: link, address, route, rule,
// neighbour, fdb (also as "fpctl bridge fdb", bridge's grammar and
// output), stats; see "fpctl help" and "fpctl OBJECT help".
//
// Tunnels: link add ... type vxlan|geneve, fdb entries of VXLAN devices,
// route encapsulation (encap ip|ip6|mpls, per route or per nexthop) and
// MPLS label routes (-M or -f mpls: "route add 100 as 200 via inet ADDR
// dev DEV"). ip -d link shows the vxlan/geneve line, and route show
// prints encap and "as to" as ip does. Adding a vxlan link without
// dstport prints iproute2's four-line warning on stderr and goes on.
//
// # Compatibility with ip
//
// Output: routes, rules, neighbours and addresses print exactly as ip
// (iproute2 6.x) prints the same kernel state, trailing spaces included;
// a root test builds that state in a namespace and compares line by line.
// Left out because flowpath has no such thing: qdisc, group, qlen and
// mode in link headers, IPv6 router preference ("pref medium"), "uid"
// and the "cache" line of route get. ip -s link's counter block shows the
// counters flowpath keeps (bytes, packets, dropped), followed by
// "drops: REASON N ..." for the drops of that device by reason.
//
// route get prints ip's line, then (always) how flowpathd decided, one
// step per line indented by four spaces ("path mtu N" first when the
// daemon reports the MTU forwarding would enforce). Scripts reading only
// the first line see ip's format.
//
// Errors and exit status follow iproute2: 255 for a command-line error
// ("Error: either "to" is duplicate, or "x" is a garbage."), 1 for a bad
// address or an unknown device ("Cannot find device "x"", checked against
// the daemon's links before sending, as ip does) or when the daemon cannot
// be reached ("fpctl: cannot connect to flowpathd at PATH: ..."), 2 when
// the daemon refused. A refusal prints two lines:
//
//	RTNETLINK answers: File exists
//	Error: route 10.0.0.0/8 table 254 metric 0.
//
// The first is the C library's text for Response.Code; the second is
// Response.Error without its trailing errno text, ending in a period like
// a kernel extended ack, and is left out when nothing else remains. An
// error without a code prints only "Error: <Response.Error>.".
//
// iproute2 keywords flowpath does not implement (tos, realms, encap
// seg6/bpf/ila, route change, ...) are refused with `Error: "X" is not supported by
// flowpath.` (exit 255), never silently ignored.
//
// fpctl -batch FILE (or - for standard input) runs one command per line
// as ip -batch does: comments from a word starting with "#", "\" at the
// end of a line to go on, "double quotes" around a word with spaces. It
// stops at the first failure with "Command failed FILE:LINE" (exit 1);
// -force runs every line and still exits 1 if any failed. Each line is a
// request of its own: what ran before a failure stays. Loading 1,000
// routes takes a third of a second instead of a process per command.
//
// -j prints the api objects of the answer as one JSON line (an array for
// shows; the Stats object for stats); -p indents it.
package main
