package main

// usage is the help text of fpctl and of each object, in iproute2's style.
var usage = map[string]string{
	"fpctl": `Usage: fpctl [ OPTIONS ] OBJECT { COMMAND | help }
where  OBJECT := { link | address | route | rule | neighbour | stats }
       OPTIONS := { -4 | -6 | -f[amily] { inet | inet6 } | -s[tatistics] |
                    -d[etails] | -j[son] | -p[retty] | --socket PATH | -h[elp] }
The socket defaults to $FLOWPATH_SOCKET, else ` + "/run/flowpath/flowpathd.sock" + `.
Exit status: 0 ok, 1 bad address or device, cannot reach flowpathd;
2 flowpathd refused ("RTNETLINK answers: ..."); 255 command line error.
`,
	"link": `Usage: fpctl link add [ name ] NAME [ mtu MTU ] [ address LLADDR ] type TYPE [ ARGS ]
       fpctl link set [ dev ] NAME [ up | down ] [ mtu MTU ] [ address LLADDR ]
       fpctl link delete [ dev ] NAME
       fpctl link show [ [ dev ] NAME ]
TYPE ARGS := afpacket ifname IFNAME [ queues N ] | tap ifname IFNAME [ queues N ] | dummy
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
       fpctl route { add | del | append | replace } ROUTE
SELECTOR := [ table TABLE_ID ] [ dev STRING ] [ type TYPE ] [ [ exact ] PREFIX ]
ROUTE := NODE_SPEC [ INFO_SPEC ]
NODE_SPEC := [ TYPE ] PREFIX [ table TABLE_ID ] [ proto RTPROTO ]
             [ scope SCOPE ] [ metric METRIC ]
INFO_SPEC := NH OPTIONS FLAGS [ nexthop NH ]...
NH := [ via [ FAMILY ] ADDRESS ] [ dev STRING ] [ weight NUMBER ] NHFLAGS
FAMILY := [ inet | inet6 ]
OPTIONS := FLAGS [ mtu [ lock ] NUMBER ] [ src ADDRESS ]
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
ACTION := [ table TABLE_ID ] | [ blackhole | unreachable | prohibit ]
TABLE_ID := [ local | main | default | NUMBER ]
`,
	"neighbour": `Usage: fpctl neigh { add | del | change | replace }
                { ADDR [ lladdr LLADDR ] [ nud STATE ] [ router ] } dev DEV
       fpctl neigh { show | flush } [ to PREFIX ] [ dev DEV ] [ nud STATE ]
STATE := { permanent | noarp | stale | reachable | none | incomplete |
           delay | probe | failed | all (show and flush only) }
`,
	"stats": `Usage: fpctl stats [ show ]
Counters per device, drops by reason, workers and their pools,
neighbour-table counters; with -j as JSON.
`,
}
