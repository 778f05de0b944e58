package main

import (
	"testing"

	"flowpath/api"
)

func TestEndToEndTunnels(t *testing.T) {
	d := newFakeDaemon(t)

	// vxlan without dstport: iproute2's warning, then the request.
	out, errs, st := d.fpctl("link", "add", "vx0", "type", "vxlan", "id", "42", "remote", "10.0.0.2", "dev", "eth0")
	if st != 0 || out != "" || errs != vxlanPortWarning {
		t.Fatalf("vxlan add: %d %q %q", st, out, errs)
	}
	if got := d.ops(); got != "link.show link.add" {
		t.Fatalf("requests %q", got)
	}
	if l := d.last().Link; l == nil || l.VXLAN == nil || l.VXLAN.VNI != 42 || l.VXLAN.Remote != "10.0.0.2" || l.VXLAN.Dev != "eth0" {
		t.Fatalf("link.add %s", mustJSON(d.last()))
	}
	// With dstport: quiet.
	d.reset()
	if _, errs, st := d.fpctl("link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789"); st != 0 || errs != "" {
		t.Fatalf("vxlan add dstport: %d %q", st, errs)
	}
	if got := d.ops(); got != "link.add" {
		t.Fatalf("requests %q", got)
	}

	for _, c := range []struct {
		args   []string
		stderr string
		status int
		ops    string
		op     string
	}{
		{[]string{"link", "add", "vx0", "type", "vxlan", "id", "1", "dstport", "0", "dev", "eth9"}, "Cannot find device \"eth9\"\n", 1, "link.show", ""},
		{[]string{"link", "add", "vx0", "type", "vxlan", "external", "id", "1"}, "vxlan: both 'external' and vni cannot be specified\n", 1, "", ""},
		{[]string{"link", "add", "g0", "type", "geneve", "id", "1", "remote", "10.0.0.2"}, "", 0, "link.add", api.OpLinkAdd},
		{[]string{"bridge", "fdb", "add", "00:00:00:00:00:00", "dev", "eth0", "dst", "10.0.0.2"}, "", 0, "link.show fdb.add", api.OpFDBAdd},
		{[]string{"fdb", "append", "00:00:00:00:00:00", "dev", "eth0", "dst", "10.0.0.3"}, "", 0, "link.show fdb.append", api.OpFDBAppend},
		{[]string{"bridge", "fdb", "replace", "00:00:00:00:00:00", "dev", "eth0", "dst", "10.0.0.3"}, "", 0, "link.show fdb.replace", api.OpFDBReplace},
		{[]string{"bridge", "fdb", "del", "00:00:00:00:00:00", "dev", "eth0", "dst", "10.0.0.3"}, "", 0, "link.show fdb.del", api.OpFDBDel},
		{[]string{"bridge", "fdb", "add", "00:00:00:00:00:00", "dev", "vx9"}, "Cannot find device \"vx9\"\n", 1, "link.show", ""},
		{[]string{"fdb", "add", "00:00:00:00:00:00", "dev", "eth0", "via", "eth8"}, "Cannot find device \"eth8\"\n", 1, "link.show", ""},
		{[]string{"route", "add", "10.2.0.0/24", "encap", "ip", "id", "10", "dst", "50.1.1.2", "dev", "eth0"}, "", 0, "link.show route.add", api.OpRouteAdd},
		{[]string{"-M", "route", "add", "100", "as", "200", "via", "inet", "10.1.1.1", "dev", "eth0"}, "", 0, "link.show route.add", api.OpRouteAdd},
		{[]string{"-f", "mpls", "route", "del", "100"}, "", 0, "route.del", api.OpRouteDel},
		{[]string{"link", "add", "link", "eth0", "name", "eth0.5", "type", "vlan", "id", "5"}, "", 0, "link.show link.add", api.OpLinkAdd},
		{[]string{"link", "add", "link", "eth9", "name", "eth9.5", "type", "vlan", "id", "5"}, "Cannot find device \"eth9\"\n", 1, "link.show", ""},
	} {
		d.reset()
		out, errs, st := d.fpctl(c.args...)
		if st != c.status || errs != c.stderr || out != "" {
			t.Errorf("%v: status %d stdout %q stderr %q; want %d %q", c.args, st, out, errs, c.status, c.stderr)
		}
		if got := d.ops(); got != c.ops {
			t.Errorf("%v: requests %q, want %q", c.args, got, c.ops)
		}
		if c.op != "" && d.last().Op != c.op {
			t.Errorf("%v: last op %q", c.args, d.last().Op)
		}
	}
	// The MPLS route reached the daemon as a label route.
	d.reset()
	d.fpctl("-M", "route", "add", "100", "as", "200", "via", "inet", "10.1.1.1", "dev", "eth0")
	if r := d.last().Route; r == nil || r.Family != api.FamilyMPLS || r.Dst != "100" || len(r.As) != 1 || r.As[0] != 200 || r.Via != "10.1.1.1" {
		t.Fatalf("mpls route.add %s", mustJSON(d.last()))
	}
}

func TestEndToEndTunnelShows(t *testing.T) {
	d := newFakeDaemon(t)
	d.resp[api.OpLinkShow].Links = append(d.resp[api.OpLinkShow].Links, api.Link{Name: "vx0", Index: 3, Kind: "vxlan",
		MAC: "02:00:00:00:00:03", MTU: 1450, OperState: "UNKNOWN", Flags: []string{"BROADCAST", "MULTICAST", "UP", "LOWER_UP"},
		VXLAN: &api.VXLAN{VNI: 42, Remote: "10.0.0.2", Dev: "eth0", DstPort: 4789, SetDstPort: true}})
	d.resp[api.OpFDBShow] = &api.Response{FDBs: []api.FDB{
		{MAC: "00:00:00:00:00:00", Dev: "vx0", Dst: "10.0.0.2", State: "permanent"},
		{MAC: "02:00:00:00:00:09", Dev: "vx0", Dst: "10.0.0.9", State: "dynamic", Learned: true}}}
	d.resp[api.OpRouteShow] = &api.Response{Routes: []api.Route{
		{Family: 4, Dst: "10.2.0.0/24", Dev: "vx0", Scope: "link", Table: 254,
			Encap: &api.Encap{Type: "ip", ID: 10, Src: "0.0.0.0", Dst: "50.1.1.2", Flags: []string{"key"}}},
		{Family: api.FamilyMPLS, Dst: "100", As: []uint32{200}, Via: "10.1.1.1", Dev: "eth0"}}}
	cases := []struct {
		args   []string
		stdout string
		ops    string
		check  func(api.Request) bool
	}{
		{[]string{"-d", "link", "show", "vx0"},
			"3: vx0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1450 state UNKNOWN\n    link/ether 02:00:00:00:00:03 brd ff:ff:ff:ff:ff:ff\n" +
				"    vxlan id 42 remote 10.0.0.2 dev eth0 srcport 0 0 dstport 4789 ttl auto ageing 300 udpcsum noudp6zerocsumtx noudp6zerocsumrx \n",
			"link.show", nil},
		{[]string{"--details", "link", "show", "vx0"}, "", "link.show", nil},
		{[]string{"bridge", "fdb", "show"},
			"00:00:00:00:00:00 dev vx0 dst 10.0.0.2 self permanent\n02:00:00:00:00:09 dev vx0 dst 10.0.0.9 self \n",
			"fdb.show", nil},
		{[]string{"fdb", "show", "dev", "vx0"},
			"00:00:00:00:00:00 dst 10.0.0.2 self permanent\n02:00:00:00:00:09 dst 10.0.0.9 self \n",
			"link.show fdb.show", func(r api.Request) bool { return r.Op == api.OpLinkShow }},
		{[]string{"-j", "bridge", "fdb", "show"},
			`[{"mac":"00:00:00:00:00:00","dev":"vx0","dst":"10.0.0.2","state":"permanent"},` +
				`{"mac":"02:00:00:00:00:09","dev":"vx0","dst":"10.0.0.9","state":"dynamic","learned":true}]` + "\n",
			"fdb.show", nil},
		{[]string{"route", "show"},
			"10.2.0.0/24  encap ip id 10 src 0.0.0.0 dst 50.1.1.2 ttl 0 tos 0 key dev vx0 scope link \n" +
				"100 as to 200 via inet 10.1.1.1 dev eth0 \n",
			"route.show", nil},
		{[]string{"-M", "route"}, "", "route.show", func(r api.Request) bool { return r.Filter.Family == api.FamilyMPLS }},
		{[]string{"-f", "mpls", "route", "show", "dev", "eth0"}, "", "link.show route.show", nil},
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
}
