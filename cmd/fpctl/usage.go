package main

// usage is the help text of fpctl and of each object, in iproute2's style.
var usage = map[string]string{
	"fpctl": `Usage: fpctl [ OPTIONS ] OBJECT { COMMAND | help }
       fpctl [ -force ] -batch FILENAME
where  OBJECT := { link | address | route | rule | neighbour | fdb | stats | sysctl }
       OPTIONS := { -4 | -6 | -M | -f[amily] { inet | inet6 | mpls } | -s[tatistics] |
                    -d[etails] | -j[son] | -p[retty] | --socket PATH | -h[elp] }
The socket defaults to $FLOWPATH_SOCKET, else ` + "/run/flowpath/flowpathd.sock" + `.
Exit status: 0 ok, 1 bad address or device, cannot reach flowpathd;
2 flowpathd refused ("RTNETLINK answers: ..."); 255 command line error.
`,
	"link": `Usage: fpctl link add [ link DEV ] [ name ] NAME [ mtu MTU ] [ address LLADDR ] type TYPE [ ARGS ]
       fpctl link set [ dev ] NAME [ up | down ] [ mtu MTU ] [ address LLADDR ] [ name NEWNAME ]
       fpctl link delete [ dev ] NAME
       fpctl link show [ [ dev ] NAME ]
TYPE ARGS := afpacket ifname IFNAME [ queues N ] | tap ifname IFNAME [ queues N ] | dummy |
             vxlan { id VNI | external } [ { remote | group } ADDR ] [ local ADDR ]
                   [ dev PHYS ] [ dstport PORT ] [ srcport MIN MAX ]
                   [ ttl { N | auto | inherit } ] [ tos { TOS | inherit } ]
                   [ [no]learning ] [ [no]udpcsum ] [ gbp ] [ ageing SECONDS ]
                   [ maxaddress N ] [ [no]localbypass ] |
             geneve { id VNI | external } [ remote ADDR ] [ dstport PORT ]
                    [ ttl { N | auto | inherit } ] [ tos { TOS | inherit } ]
                    [ flowlabel LABEL ] [ [no]udpcsum ] |
             vlan [ protocol { 802.1Q | 802.1ad } ] id VLANID [ reorder_hdr on ]   (needs link DEV)
`,
	"vlan": `Usage: ... vlan [ protocol VLANPROTO ] id VLANID [ reorder_hdr { on } ]

VLANPROTO: [ 802.1Q | 802.1ad ]
VLANID := 0-4095
`,
	"address": `Usage: fpctl address { add | del } IFADDR dev IFNAME [ scope SCOPE ]
       fpctl address show [ [ dev ] IFNAME ] [ to PREFIX ]
       fpctl address flush [ dev ] IFNAME [ to PREFIX ]
IFADDR := PREFIX | ADDR
SCOPE := [ host | link | global | NUMBER ]
`,
	"route": `Usage: fpctl route { show | flush } SELECTOR
       fpctl route get ADDRESS [ from ADDRESS ] [ iif STRING ] [ oif STRING ]
                               [ mark NUMBER ] [ ipproto PROTOCOL ]
                               [ sport NUMBER ] [ dport NUMBER ]
       fpctl route { add | del | change | append | replace | prepend } ROUTE
SELECTOR := [ table TABLE_ID ] [ dev STRING ] [ type TYPE ] [ [ exact ] PREFIX ]
ROUTE := NODE_SPEC [ INFO_SPEC ]
NODE_SPEC := [ TYPE ] PREFIX [ table TABLE_ID ] [ proto RTPROTO ]
             [ scope SCOPE ] [ metric METRIC ]
INFO_SPEC := NH OPTIONS FLAGS [ nexthop NH ]...
NH := [ ENCAP ] [ via [ FAMILY ] ADDRESS ] [ dev STRING ] [ weight NUMBER ] NHFLAGS
FAMILY := [ inet | inet6 ]
OPTIONS := FLAGS [ mtu [ lock ] NUMBER ] [ src ADDRESS ] [ ENCAP ]
ENCAP := encap { mpls LABEL[/LABEL...] [ ttl N ] |
                 ip [ id ID ] [ dst ADDR ] [ src ADDR ] [ ttl N ] [ tos N ] ENCAPFLAGS |
                 ip6 [ id ID ] [ dst ADDR ] [ src ADDR ] [ hoplimit N ] [ tc N ] ENCAPFLAGS }
ENCAPFLAGS := [ key ] [ csum ] [ seq ] [ geneve_opts CLASS:TYPE:DATA[,...] | vxlan_opts GBP ]
MPLS (-M or -f mpls): fpctl -M route { add | del } LABEL [ as [ to ] LABEL[/LABEL...] ]
                          [ via { inet | inet6 } ADDRESS ] [ dev STRING ] [ nexthop ... ]
TYPE := { unicast | local | broadcast | throw | unreachable | prohibit | blackhole }
TABLE_ID := [ local | main | default | all | NUMBER ]
SCOPE := [ host | link | global | NUMBER ]
NHFLAGS := [ onlink ]
RTPROTO := [ kernel | boot | static | NUMBER ]
route get prints ip's line, then how flowpathd decided, one step a line.
`,
	"rule": `Usage: fpctl rule { add | del } SELECTOR ACTION
       fpctl rule show
SELECTOR := [ not ] [ from PREFIX ] [ to PREFIX ] [ fwmark FWMARK[/MASK] ]
            [ iif STRING ] [ oif STRING ] [ tun_id TUN_ID ] [ pref NUMBER ]
ACTION := [ table TABLE_ID ] | [ blackhole | unreachable | prohibit ] | nop | goto PRIORITY
TABLE_ID := [ local | main | default | NUMBER ]
`,
	"neighbour": `Usage: fpctl neigh { add | del | change | replace }
                { ADDR [ lladdr LLADDR ] [ nud STATE ] [ router ] } dev DEV
       fpctl neigh { show | flush } [ to PREFIX ] [ dev DEV ] [ nud STATE ]
STATE := { permanent | noarp | stale | reachable | none | incomplete |
           delay | probe | failed | all (show and flush only) }
`,
	"fdb": `Usage: fpctl [ bridge ] fdb { add | append | replace | del } LLADDR dev DEV
                [ dst IPADDR ] [ port PORT ] [ vni VNI ] [ via DEV ] [ self ]
                [ permanent | static | dynamic ]
       fpctl [ bridge ] fdb show [ dev DEV ]
`,
	"stats": `Usage: fpctl stats [ show ]
Counters per device, drops by reason, workers and their pools,
neighbour-table counters; with -j as JSON.
`,
	"sysctl": `Usage: fpctl sysctl [ -a ]                 list the tunables
       fpctl sysctl NAME                  show one
       fpctl sysctl [ -w ] NAME=VALUE     set one
NAME := net.mpls.ip_ttl_propagate | net.mpls.default_ttl | net.ipv4.fib_multipath_hash_policy
`,
}
