//go:build netns

package tests

import (
	"strings"
	"testing"
)

// TestControlJSON: after traffic, fpctl -j route get, neigh show and stats
// parse as JSON and hold what the traffic must have produced.
func TestControlJSON(t *testing.T) {
	tp := newTopo(t, topoConfig{kind: kindAFPacket})
	h1, h2 := tp.host("h1"), tp.host("h2")
	for _, a := range []string{h2.v4, h2.v6} {
		if out, ok := tp.ping(h1, "-c", "2", "-i", "0.2", "-W", "2", a); !ok {
			t.Fatalf("ping %s:\n%s", a, out)
		}
	}
	tp.ping(h1, "-c", "1", "-W", "1", "10.7.0.1") // no route: a counted drop

	type routeGet struct {
		Type    string   `json:"type"`
		Dst     string   `json:"dst"`
		Via     string   `json:"gateway"`
		Dev     string   `json:"dev"`
		Src     string   `json:"prefsrc"`
		Table   uint32   `json:"table"`
		PathMTU uint32   `json:"pathmtu"`
		Iif     string   `json:"iif"`
		Explain []string `json:"explain"`
	}
	for _, c := range []struct {
		args               []string
		typ, dev, src, via string
		table              uint32
	}{
		{[]string{"route", "get", h2.v4}, "unicast", "h2", h2.gw4, "", 254},
		{[]string{"route", "get", h1.v4, "from", h2.v4, "iif", "h2"}, "unicast", "h1", "", "", 254},
		{[]string{"route", "get", h2.v6}, "unicast", "h2", "", "", 254},
		// Every link has its own fe80::/64, as in the kernel.
		{[]string{"route", "get", "fe80::1", "oif", "h1"}, "unicast", "h1", "", "", 254},
		{[]string{"route", "get", "fe80::1", "oif", "h2"}, "unicast", "h2", "", "", 254},
		{[]string{"route", "get", h1.gw4}, "local", "", "", "", 255},
		{[]string{"route", "get", h2.gw6}, "local", "", "", "", 255},
	} {
		var res []routeGet
		tp.fpctlJSON(&res, c.args...)
		if len(res) != 1 {
			t.Errorf("fpctl -j %s: %d results, want 1: %+v", strings.Join(c.args, " "), len(res), res)
			continue
		}
		r := res[0]
		if r.Type != c.typ || (c.dev != "" && r.Dev != c.dev) || (c.src != "" && r.Src != c.src) ||
			r.Via != c.via || r.Table != c.table || len(r.Explain) == 0 {
			t.Errorf("fpctl -j %s = %+v; want type %s dev %s src %s via %q table %d and an explanation",
				strings.Join(c.args, " "), r, c.typ, c.dev, c.src, c.via, c.table)
		}
		if r.Type == "unicast" && r.PathMTU != 1500 {
			t.Errorf("fpctl -j %s: pathmtu %d, want 1500", strings.Join(c.args, " "), r.PathMTU)
		}
	}

	var neighs []struct {
		Dev    string `json:"dev"`
		Dst    string `json:"dst"`
		LLAddr string `json:"lladdr"`
		State  string `json:"state"`
	}
	tp.fpctlJSON(&neighs, "neigh", "show")
	mac1, mac2 := tp.hostMAC(h1), tp.hostMAC(h2)
	want := map[string]string{h1.v4: "h1 " + mac1, h1.v6: "h1 " + mac1, h2.v4: "h2 " + mac2, h2.v6: "h2 " + mac2}
	for _, n := range neighs {
		w, ok := want[n.Dst]
		if !ok {
			continue
		}
		delete(want, n.Dst)
		if n.Dev+" "+n.LLAddr != w {
			t.Errorf("neigh %s: dev %s lladdr %s, want %s", n.Dst, n.Dev, n.LLAddr, w)
		}
		switch n.State {
		case "REACHABLE", "STALE", "DELAY", "PROBE":
		default:
			t.Errorf("neigh %s: state %s, want a resolved state", n.Dst, n.State)
		}
	}
	if len(want) != 0 {
		t.Errorf("fpctl -j neigh show lacks %v: %+v", want, neighs)
	}

	var st statsJSON
	tp.fpctlJSON(&st, "stats")
	links := map[string][2]uint64{}
	for _, l := range st.Links {
		links[l.Name] = [2]uint64{l.RxPackets, l.TxPackets}
	}
	// 2+2 echo requests in on h1 and out on h2, the replies the other way.
	for _, name := range []string{"h1", "h2"} {
		if c, ok := links[name]; !ok || c[0] < 4 || c[1] < 4 {
			t.Errorf("stats: link %s rx/tx %v, want >= 4 each (links %v)", name, c, links)
		}
	}
	if st.Drops["no_route"] < 1 {
		t.Errorf("stats: drops %v, want no_route >= 1", st.Drops)
	}
	ports := map[string]bool{}
	for _, w := range st.Workers {
		ports[w.Port] = true
		if w.PoolSize <= 0 {
			t.Errorf("stats: worker on %s has pool size %d", w.Port, w.PoolSize)
		}
	}
	if !ports["h1"] || !ports["h2"] {
		t.Errorf("stats: workers for %v, want h1 and h2", ports)
	}
	if st.Neigh["entries"] < 4 || st.Generation == 0 {
		t.Errorf("stats: neigh %v generation %d, want >= 4 entries and a generation", st.Neigh, st.Generation)
	}
}

// TestInvalidCommands: fpctl refuses bad input with ip's words and exit
// status, and the refused command changes nothing.
func TestInvalidCommands(t *testing.T) {
	tp := newTopo(t, topoConfig{kind: kindAFPacket})
	tp.fpctlOK("route", "add", "10.9.0.0/24", "via", "10.2.0.1")
	state := func() string {
		var b strings.Builder
		for _, args := range [][]string{
			{"-j", "route", "show", "table", "all"},
			{"-j", "-6", "route", "show", "table", "all"},
			{"-j", "addr", "show"},
			{"-j", "rule", "show"},
			{"-j", "neigh", "show", "nud", "permanent"},
		} {
			b.WriteString(tp.fpctlOK(args...))
		}
		return b.String()
	}
	before := state()
	if !strings.Contains(before, `"10.9.0.0/24"`) || !strings.Contains(before, `"10.1.0.254/24"`) {
		t.Fatalf("the configuration as fpctl shows it lacks the route or address just added:\n%s", before)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"route", "add", "10.9.0.0/24", "via", "10.2.0.1"}, 2, "RTNETLINK answers: File exists"},
		{[]string{"route", "add", "10.5.0.0/24", "via", "10.99.0.1"}, 2, "RTNETLINK answers: Network is unreachable"},
		{[]string{"route", "add", "10.5.0.0/33", "dev", "h1"}, 1, `Error: any valid prefix is expected rather than "10.5.0.0/33".`},
		{[]string{"route", "add", "10.5.0.0/24", "dev", "nosuch"}, 1, `Cannot find device "nosuch"`},
		{[]string{"route", "add", "10.5.0.0/24", "nexthop", "via", "10.2.0.1", "dev", "h2", "nexthop", "via", "10.99.0.1"}, 2, "RTNETLINK answers: Network is unreachable"},
		{[]string{"route", "del", "10.77.0.0/24"}, 2, "RTNETLINK answers: No such process"},
		{[]string{"route", "frobnicate"}, 255, `Command "frobnicate" is unknown`},
		{[]string{"addr", "add", "10.1.0.254/24", "dev", "h1"}, 2, "RTNETLINK answers: File exists"},
		{[]string{"link", "set", "nosuch", "up"}, 1, `Cannot find device "nosuch"`},
		{[]string{"link", "add", "h1", "type", "afpacket", "ifname", "r-h1"}, 2, "RTNETLINK answers: File exists"},
		{[]string{"neigh", "add", "10.2.0.9", "lladdr", "zz", "dev", "h2"}, 1, `"zz" is invalid lladdr`},
		{[]string{"route", "get", "10.2.0.1", "from"}, 255, "Command line is not complete"},
	} {
		out, errOut, code := tp.fpctl(c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("fpctl %s: exit %d, stderr %q; want exit %d and %q (stdout %q)",
				strings.Join(c.args, " "), code, errOut, c.code, c.msg, out)
		}
		if after := state(); after != before {
			t.Fatalf("fpctl %s changed the configuration:\nbefore %s\nafter  %s", strings.Join(c.args, " "), before, after)
		}
	}
}
