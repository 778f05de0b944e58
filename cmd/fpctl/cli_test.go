package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"flowpath/api"
	"flowpath/internal/control"
)

// fakeDaemon is a control.Server whose handler records every request
// and answers from canned responses (by op); an op without one gets an
// empty success.
type fakeDaemon struct {
	path string
	mu   sync.Mutex
	reqs []api.Request
	resp map[string]*api.Response
}

func newFakeDaemon(t *testing.T) *fakeDaemon {
	t.Helper()
	d := &fakeDaemon{path: filepath.Join(t.TempDir(), "fp.sock"), resp: map[string]*api.Response{}}
	s := control.NewServer(func(req *api.Request) *api.Response {
		d.mu.Lock()
		defer d.mu.Unlock()
		// Keep a deep copy: the test inspects it after the server is done.
		var cp api.Request
		b, _ := json.Marshal(req)
		json.Unmarshal(b, &cp)
		d.reqs = append(d.reqs, cp)
		return d.resp[req.Op]
	})
	s.Logf = t.Logf
	if err := s.Listen(d.path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
	})
	d.resp[api.OpLinkShow] = &api.Response{Links: []api.Link{
		{Name: "lo", Index: 1, Kind: "loopback", MTU: 65536, OperState: "UNKNOWN", Flags: []string{"LOOPBACK", "UP", "LOWER_UP"},
			Stats: &api.LinkStats{}},
		{Name: "eth0", Index: 2, Kind: "afpacket", IfName: "veth0", MAC: "02:00:00:00:00:01", MTU: 1500, OperState: "UP",
			Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"},
			Stats: &api.LinkStats{RxPackets: 3, RxBytes: 300, TxPackets: 2, TxBytes: 200}},
	}}
	return d
}

func (d *fakeDaemon) ops() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var ops []string
	for _, r := range d.reqs {
		ops = append(ops, r.Op)
	}
	return strings.Join(ops, " ")
}

func (d *fakeDaemon) last() api.Request {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.reqs) == 0 {
		return api.Request{}
	}
	return d.reqs[len(d.reqs)-1]
}

func (d *fakeDaemon) reset() {
	d.mu.Lock()
	d.reqs = nil
	d.mu.Unlock()
}

// fpctl runs the CLI against d and returns its output and status.
func (d *fakeDaemon) fpctl(argv ...string) (stdout, stderr string, status int) {
	var out, errb bytes.Buffer
	status = run(append([]string{"--socket", d.path}, argv...), &out, &errb)
	return out.String(), errb.String(), status
}

func TestEndToEndChanges(t *testing.T) {
	d := newFakeDaemon(t)
	out, errs, st := d.fpctl("r", "a", "10.0.0.0/8", "via", "10.1.0.1", "dev", "eth0", "metric", "5")
	if st != 0 || out != "" || errs != "" {
		t.Fatalf("route add: %d %q %q", st, out, errs)
	}
	if got := d.ops(); got != "link.show route.add" {
		t.Fatalf("requests %q", got)
	}
	r := d.last()
	if r.Version != api.Version || r.Route == nil || r.Route.Dst != "10.0.0.0/8" || r.Route.Via != "10.1.0.1" ||
		r.Route.Metric != 5 || r.Route.Table != api.TableMain {
		t.Fatalf("route.add request %s", mustJSON(r))
	}

	// Commands without devices go straight to the daemon.
	d.reset()
	if _, errs, st := d.fpctl("rule", "add", "from", "10.1.0.0/24", "lookup", "100", "pref", "100"); st != 0 {
		t.Fatalf("rule add: %d %q", st, errs)
	}
	if got := d.ops(); got != "rule.add" {
		t.Fatalf("requests %q", got)
	}

	// Every change command reaches the daemon with its op.
	for _, c := range []struct {
		args []string
		op   string
	}{
		{[]string{"link", "add", "h1", "type", "afpacket", "ifname", "veth1"}, api.OpLinkAdd},
		{[]string{"link", "set", "eth0", "up"}, api.OpLinkSet},
		{[]string{"link", "del", "eth0"}, api.OpLinkDel},
		{[]string{"addr", "add", "10.0.0.1/24", "dev", "eth0"}, api.OpAddrAdd},
		{[]string{"a", "del", "10.0.0.1/24", "dev", "eth0"}, api.OpAddrDel},
		{[]string{"addr", "flush", "dev", "eth0"}, api.OpAddrFlush},
		{[]string{"route", "replace", "10.0.0.0/8", "dev", "eth0"}, api.OpRouteReplace},
		{[]string{"route", "append", "10.0.0.0/8", "dev", "eth0"}, api.OpRouteAppend},
		{[]string{"route", "del", "10.0.0.0/8"}, api.OpRouteDel},
		{[]string{"route", "flush", "table", "100"}, api.OpRouteFlush},
		{[]string{"rule", "del", "pref", "100"}, api.OpRuleDel},
		{[]string{"neigh", "add", "10.0.0.2", "lladdr", "02:00:00:00:00:02", "dev", "eth0"}, api.OpNeighAdd},
		{[]string{"neighbor", "replace", "10.0.0.2", "dev", "eth0"}, api.OpNeighReplace},
		{[]string{"neighbour", "change", "10.0.0.2", "dev", "eth0", "nud", "stale"}, api.OpNeighChange},
		{[]string{"n", "del", "10.0.0.2", "dev", "eth0"}, api.OpNeighDel},
		{[]string{"n", "flush", "dev", "eth0"}, api.OpNeighFlush},
	} {
		d.reset()
		out, errs, st := d.fpctl(c.args...)
		if st != 0 || out != "" || errs != "" {
			t.Errorf("%v: %d %q %q", c.args, st, out, errs)
			continue
		}
		if got := d.last().Op; got != c.op {
			t.Errorf("%v: last request %q, want %q", c.args, got, c.op)
		}
	}
}

func TestEndToEndErrors(t *testing.T) {
	d := newFakeDaemon(t)
	cases := []struct {
		name   string
		resp   *api.Response // for route.add
		args   []string
		stderr string
		status int
		ops    string
	}{
		{"extack", &api.Response{Error: "route 10.0.0.0/8 table 254 metric 0: file exists", Code: "EEXIST"},
			[]string{"route", "add", "10.0.0.0/8", "dev", "eth0"},
			"RTNETLINK answers: File exists\nError: route 10.0.0.0/8 table 254 metric 0.\n", 2, "link.show route.add"},
		{"bare errno", &api.Response{Error: "no such process", Code: "ESRCH"},
			[]string{"route", "add", "10.0.0.0/8"},
			"RTNETLINK answers: No such process\n", 2, "route.add"},
		{"context not ending in errno", &api.Response{Error: "gateway 10.9.9.9 is not reachable.", Code: "ENETUNREACH"},
			[]string{"route", "add", "10.0.0.0/8", "via", "10.9.9.9"},
			"RTNETLINK answers: Network is unreachable\nError: gateway 10.9.9.9 is not reachable.\n", 2, "route.add"},
		{"unknown code", &api.Response{Error: "x: weird", Code: "EWEIRD"},
			[]string{"route", "add", "10.0.0.0/8"},
			"RTNETLINK answers: EWEIRD\nError: x: weird.\n", 2, "route.add"},
		{"no code", &api.Response{Error: "route.add: internal error: boom"},
			[]string{"route", "add", "10.0.0.0/8"},
			"Error: route.add: internal error: boom.\n", 2, "route.add"},
		{"missing device", nil,
			[]string{"route", "add", "10.0.0.0/8", "nexthop", "dev", "eth0", "nexthop", "dev", "eth9"},
			"Cannot find device \"eth9\"\n", 1, "link.show"},
		{"grammar", nil,
			[]string{"route", "add", "10.0.0.0/8", "metric", "x"},
			"Error: argument \"x\" is wrong: \"metric\" value is invalid\n", 255, ""},
		{"bad prefix", nil,
			[]string{"route", "add", "10.0.0.0/33"},
			"Error: any valid prefix is expected rather than \"10.0.0.0/33\".\n", 1, ""},
		{"unknown object", nil, []string{"frob"}, "Object \"frob\" is unknown, try \"fpctl help\".\n", 255, ""},
		{"unknown command", nil, []string{"route", "frob"}, "Command \"frob\" is unknown, try \"fpctl route help\".\n", 255, ""},
		{"unknown option", nil, []string{"-x", "route"}, "Option \"-x\" is unknown, try \"fpctl -help\".\n", 255, ""},
		{"no object", nil, nil, usage["fpctl"], 255, ""},
		{"link show missing", nil, []string{"link", "show", "eth9"}, "Device \"eth9\" does not exist.\n", 1, "link.show"},
		{"addr show missing", nil, []string{"addr", "show", "dev", "eth9"}, "Device \"eth9\" does not exist.\n", 1, "link.show"},
		{"neigh dev missing", nil, []string{"neigh", "show", "dev", "eth9"}, "Cannot find device \"eth9\"\n", 1, "link.show"},
		{"route get iif missing", nil, []string{"route", "get", "10.0.0.1", "iif", "eth9"}, "Cannot find device \"eth9\"\n", 1, "link.show"},
	}
	for _, c := range cases {
		d.resp[api.OpRouteAdd] = c.resp
		d.reset()
		out, errs, st := d.fpctl(c.args...)
		if st != c.status || errs != c.stderr || out != "" {
			t.Errorf("%s: status %d, stdout %q, stderr %q; want %d, %q", c.name, st, out, errs, c.status, c.stderr)
		}
		if got := d.ops(); got != c.ops {
			t.Errorf("%s: requests %q, want %q", c.name, got, c.ops)
		}
	}
}

func TestEndToEndDeviceCheckSkippedWithoutLinkShow(t *testing.T) {
	d := newFakeDaemon(t)
	d.resp[api.OpLinkShow] = &api.Response{Error: "link.show: operation not supported", Code: "EOPNOTSUPP"}
	d.resp[api.OpRouteAdd] = &api.Response{Error: "route 10.0.0.0/8: device eth9: no such device", Code: "ENODEV"}
	_, errs, st := d.fpctl("route", "add", "10.0.0.0/8", "dev", "eth9")
	if st != 2 || errs != "RTNETLINK answers: No such device\nError: route 10.0.0.0/8: device eth9.\n" {
		t.Fatalf("status %d stderr %q", st, errs)
	}
	if got := d.ops(); got != "link.show route.add" {
		t.Fatalf("requests %q", got)
	}
}

func TestEndToEndNoDaemon(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.sock")
	var out, errb bytes.Buffer
	st := run([]string{"--socket=" + path, "route", "show"}, &out, &errb)
	want := "fpctl: cannot connect to flowpathd at " + path + ": "
	if st != 1 || !strings.HasPrefix(errb.String(), want) || out.Len() != 0 {
		t.Fatalf("status %d stderr %q", st, errb.String())
	}
	// A grammar error is reported before any connection is tried.
	errb.Reset()
	if st := run([]string{"--socket", path, "route", "add"}, &out, &errb); st != 255 || errb.String() != usage["route"] {
		t.Fatalf("status %d stderr %q", st, errb.String())
	}
}

func TestEndToEndShows(t *testing.T) {
	d := newFakeDaemon(t)
	d.resp[api.OpRouteShow] = &api.Response{Routes: []api.Route{
		{Family: 4, Dst: "default", Via: "10.0.0.1", Dev: "eth0", Metric: 100, Table: 254},
		{Family: 4, Dst: "10.0.0.0/24", Dev: "eth0", Protocol: "kernel", Scope: "link", Src: "10.0.0.2", Table: 254},
		{Family: 4, Type: "blackhole", Dst: "10.9.0.0/16", Table: 254},
	}}
	d.resp[api.OpRouteGet] = &api.Response{RouteGet: &api.RouteGetResult{Type: "unicast", Dst: "10.9.1.1", Via: "10.0.0.1",
		Dev: "eth0", Src: "10.0.0.2", Table: 254, Explain: []string{"rule 32766: lookup main", "matched default via 10.0.0.1 dev eth0"}}}
	d.resp[api.OpRuleShow] = &api.Response{Rules: []api.Rule{
		{Priority: 0, Table: 255}, {Priority: 32766, Table: 254}, {Priority: 32767, Table: 253}}}
	d.resp[api.OpNeighShow] = &api.Response{Neighs: []api.Neigh{
		{Dst: "10.0.0.1", Dev: "eth0", LLAddr: "02:00:00:00:00:99", State: "REACHABLE"},
		{Dst: "10.0.0.5", Dev: "eth0", State: "NOARP"}}}
	d.resp[api.OpAddrShow] = &api.Response{Addrs: []api.Addr{{Dev: "eth0", Prefix: "10.0.0.2/24", Family: 4}}}
	d.resp[api.OpStats] = &api.Response{Stats: &api.Stats{Generation: 7, Drops: map[string]uint64{"no_route": 1}}}

	cases := []struct {
		args   []string
		stdout string
		ops    string
		check  func(api.Request) bool
	}{
		{[]string{"route"},
			"default via 10.0.0.1 dev eth0 metric 100 \n10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2 \nblackhole 10.9.0.0/16 \n",
			"route.show", func(r api.Request) bool { return r.Filter.Family == 4 && r.Filter.Table == 0 }},
		{[]string{"-6", "ro", "ls"}, "", // the canned answer is printed whatever the filter; the request is what matters
			"route.show", func(r api.Request) bool { return r.Filter.Family == 6 }},
		{[]string{"-j", "route", "show", "table", "all"},
			`[{"family":4,"dst":"default","table":254,"gateway":"10.0.0.1","dev":"eth0","metric":100},` +
				`{"family":4,"dst":"10.0.0.0/24","table":254,"dev":"eth0","prefsrc":"10.0.0.2","protocol":"kernel","scope":"link"},` +
				`{"family":4,"type":"blackhole","dst":"10.9.0.0/16","table":254}]` + "\n",
			"route.show", func(r api.Request) bool { return r.Filter.Table == api.TableAll && r.Filter.Family == 0 }},
		{[]string{"route", "get", "10.9.1.1"},
			"10.9.1.1 via 10.0.0.1 dev eth0 src 10.0.0.2 \n    rule 32766: lookup main\n    matched default via 10.0.0.1 dev eth0\n",
			"route.get", func(r api.Request) bool { return r.RouteGet.Dst == "10.9.1.1" }},
		{[]string{"ru"}, "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n32767:\tfrom all lookup default\n",
			"rule.show", func(r api.Request) bool { return r.Filter.Family == 4 }},
		{[]string{"neigh"}, "10.0.0.1 dev eth0 lladdr 02:00:00:00:00:99 REACHABLE \n",
			"neigh.show", func(r api.Request) bool { return r.Filter.State == "" }},
		{[]string{"neigh", "show", "nud", "all"},
			"10.0.0.1 dev eth0 lladdr 02:00:00:00:00:99 REACHABLE \n10.0.0.5 dev eth0 NOARP \n",
			"neigh.show", func(r api.Request) bool { return r.Filter.State == "" }},
		{[]string{"-j", "neigh"}, `[{"dev":"eth0","dst":"10.0.0.1","lladdr":"02:00:00:00:00:99","state":"REACHABLE"}]` + "\n",
			"neigh.show", nil},
		{[]string{"link"},
			"1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 state UNKNOWN\n    link/loopback 00:00:00:00:00:00 brd 00:00:00:00:00:00\n" +
				"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n",
			"link.show", nil},
		{[]string{"-s", "-d", "link", "show", "eth0"},
			// The fake ignores the filter and answers every link; fpctl shows the one asked for.
			"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n" +
				"    afpacket ifname veth0 \n" +
				"    RX:  bytes packets dropped\n           300       3       0\n    TX:  bytes packets dropped\n           200       2       0\n",
			"link.show", func(r api.Request) bool { return r.Filter.Dev == "eth0" }},
		{[]string{"-4", "addr"},
			"2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP\n" +
				"    inet 10.0.0.2/24 scope global eth0\n       valid_lft forever preferred_lft forever\n",
			"addr.show link.show", nil},
		{[]string{"stats"}, "", "stats", nil},
		{[]string{"-j", "stats"}, `{"links":null,"drops":{"no_route":1},"generation":7}` + "\n", "stats", nil},
		{[]string{"route", "help"}, usage["route"], "", nil},
		{[]string{"route", "add", "help"}, usage["route"], "", nil},
		{[]string{"-help"}, usage["fpctl"], "", nil},
	}
	for _, c := range cases {
		d.reset()
		out, errs, st := d.fpctl(c.args...)
		if st != 0 || errs != "" {
			t.Errorf("%v: status %d stderr %q", c.args, st, errs)
			continue
		}
		if c.stdout != "" && out != c.stdout {
			t.Errorf("%v:\n got %q\nwant %q", c.args, out, c.stdout)
		}
		if got := d.ops(); got != c.ops {
			t.Errorf("%v: requests %q, want %q", c.args, got, c.ops)
		}
		if c.check != nil {
			d.mu.Lock()
			first := d.reqs[0]
			d.mu.Unlock()
			if !c.check(first) {
				t.Errorf("%v: request %s", c.args, mustJSON(first))
			}
		}
	}
	// stats prints a table.
	out, _, _ := d.fpctl("stats")
	if !strings.Contains(out, "\nno_route     1\n") || !strings.HasSuffix(out, "generation 7\n") {
		t.Errorf("stats output %q", out)
	}
}

func TestParseOptions(t *testing.T) {
	t.Setenv("FLOWPATH_SOCKET", "/env.sock")
	o, rest, err := parseOptions([]string{"-6", "-s", "--stats", "-d", "-j", "-p", "--socket=/x.sock", "route", "-4"})
	if err != nil {
		t.Fatal(err)
	}
	if o.family != 6 || o.stats != 2 || !o.details || !o.json || !o.pretty || o.socket != "/x.sock" {
		t.Fatalf("options %+v", o)
	}
	if strings.Join(rest, " ") != "route -4" {
		t.Fatalf("rest %v", rest)
	}
	o, _, _ = parseOptions([]string{"-f", "inet", "-so", "/y.sock", "--", "-x"})
	if o.family != 4 || o.socket != "/y.sock" {
		t.Fatalf("options %+v", o)
	}
	o, _, _ = parseOptions(nil)
	if o.socket != "/env.sock" {
		t.Fatalf("socket from environment: %q", o.socket)
	}
	for _, bad := range [][]string{{"-x"}, {"-"}, {"--socket"}, {"-family", "ipx"}, {"--json=yes"}} {
		if _, _, err := parseOptions(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestStrerrorIsGlibc(t *testing.T) {
	// Every errno name the daemon may send (internal/errs) has a text.
	for _, code := range []string{"EEXIST", "ESRCH", "ENOENT", "ENODEV", "EINVAL", "EOPNOTSUPP", "ERANGE",
		"ENETUNREACH", "EHOSTUNREACH", "EBUSY", "ENOSPC", "EADDRINUSE", "EAFNOSUPPORT", "EPERM",
		"ENETDOWN", "EADDRNOTAVAIL"} {
		if strerror[code] == "" {
			t.Errorf("no text for %s", code)
		}
	}
	// And the texts are the C library's (Go's errno strings are glibc's,
	// lower-cased).
	errnos := map[string]syscall.Errno{
		"EEXIST": syscall.EEXIST, "ESRCH": syscall.ESRCH, "ENOENT": syscall.ENOENT, "ENODEV": syscall.ENODEV,
		"EINVAL": syscall.EINVAL, "EOPNOTSUPP": syscall.EOPNOTSUPP, "ERANGE": syscall.ERANGE,
		"ENETUNREACH": syscall.ENETUNREACH, "EHOSTUNREACH": syscall.EHOSTUNREACH, "EBUSY": syscall.EBUSY,
		"ENOSPC": syscall.ENOSPC, "EADDRINUSE": syscall.EADDRINUSE, "EAFNOSUPPORT": syscall.EAFNOSUPPORT,
		"EPERM": syscall.EPERM, "ENETDOWN": syscall.ENETDOWN, "EADDRNOTAVAIL": syscall.EADDRNOTAVAIL,
		"ENOMEM": syscall.ENOMEM, "ENOBUFS": syscall.ENOBUFS, "EAGAIN": syscall.EAGAIN, "EACCES": syscall.EACCES,
		"EMSGSIZE": syscall.EMSGSIZE, "EIO": syscall.EIO, "ENXIO": syscall.ENXIO,
		"EPROTONOSUPPORT": syscall.EPROTONOSUPPORT, "ETIMEDOUT": syscall.ETIMEDOUT,
		"ENOTEMPTY": syscall.ENOTEMPTY, "EMLINK": syscall.EMLINK,
	}
	for code, text := range strerror {
		e, ok := errnos[code]
		if !ok {
			t.Errorf("%s: no errno to check against", code)
			continue
		}
		if want := strings.ToUpper(e.Error()[:1]) + e.Error()[1:]; text != want {
			t.Errorf("%s: %q, want %q", code, text, want)
		}
	}
}
