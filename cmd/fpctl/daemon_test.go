package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"flowpath/internal/control"
	"flowpath/internal/dataplane"
)

// realDaemon runs the real control model and engine (no ports: dummy and
// tunnel links only) behind the real server, so fpctl's requests meet the
// daemon's validation and its answers meet fpctl's printers.
func realDaemon(t *testing.T) func(argv ...string) (string, string, int) {
	t.Helper()
	cfg := dataplane.DefaultConfig()
	cfg.PoolSize = 64
	e := dataplane.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	m, err := control.NewModel(control.Options{Engine: e})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "fp.sock")
	s := control.NewServer(m.Handle)
	s.Logf = t.Logf
	if err := s.Listen(path); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Error("server did not stop")
		}
		m.Close()
		e.Close()
	})
	return func(argv ...string) (string, string, int) {
		var out, errb bytes.Buffer
		st := run(append([]string{"--socket", path}, argv...), &out, &errb)
		return out.String(), errb.String(), st
	}
}

func TestAgainstRealDaemon(t *testing.T) {
	fp := realDaemon(t)
	must := func(argv ...string) string {
		t.Helper()
		out, errs, st := fp(argv...)
		if st != 0 {
			t.Fatalf("fpctl %s: status %d: %s%s", strings.Join(argv, " "), st, out, errs)
		}
		return out
	}
	fails := func(status int, wantErr string, argv ...string) {
		t.Helper()
		out, errs, st := fp(argv...)
		if st != status || !strings.Contains(errs, wantErr) {
			t.Fatalf("fpctl %s: status %d, want %d; stderr %q (want %q); stdout %q",
				strings.Join(argv, " "), st, status, errs, wantErr, out)
		}
	}
	must("link", "add", "u1", "type", "dummy")
	must("link", "set", "u1", "up")
	must("addr", "add", "10.100.0.1/24", "dev", "u1")
	must("link", "add", "vxlan0", "type", "vxlan", "external", "dstport", "4789")
	must("link", "set", "vxlan0", "up")
	must("addr", "add", "10.99.0.1/24", "dev", "vxlan0")
	must("route", "add", "40.1.1.1/32", "encap", "ip", "id", "10", "dst", "50.1.1.2", "dev", "vxlan0")
	must("route", "add", "10.12.0.0/24", "encap", "ip", "id", "10", "dst", "10.100.0.2", "via", "10.99.0.2", "dev", "vxlan0", "onlink")
	must("route", "add", "10.13.0.0/24", "encap", "mpls", "200/300", "via", "10.100.0.9", "dev", "u1")
	out := must("route", "show")
	for _, want := range []string{
		"40.1.1.1  encap ip id 10 src 0.0.0.0 dst 50.1.1.2 ttl 0 tos 0 dev vxlan0 scope link",
		"10.13.0.0/24  encap mpls  200/300 via 10.100.0.9 dev u1",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("route show lacks %q:\n%s", want, out)
		}
	}
	// The encap lowers the route's MTU by the label stack's headroom.
	out = must("route", "get", "10.13.0.1")
	if !strings.HasPrefix(out, "10.13.0.1  encap mpls  200/300 via 10.100.0.9 dev u1 ") {
		t.Errorf("route get (the kernel prints the encap after the destination): %s", out)
	}
	// A classic device with a default remote has the all-zero FDB entry.
	must("link", "add", "vx10", "type", "vxlan", "id", "10", "remote", "10.100.0.2", "dstport", "4789", "dev", "u1")
	must("fdb", "append", "00:00:00:00:00:00", "dev", "vx10", "dst", "10.100.0.3")
	out = must("fdb", "show", "dev", "vx10")
	if !strings.Contains(out, "00:00:00:00:00:00 dst 10.100.0.2 self permanent") ||
		!strings.Contains(out, "00:00:00:00:00:00 dst 10.100.0.3 self permanent") {
		t.Errorf("fdb show:\n%s", out)
	}
	out = must("-d", "link", "show", "vx10")
	if !strings.Contains(out, "vxlan id 10 remote 10.100.0.2 dev u1") || !strings.Contains(out, "mtu 1450") {
		t.Errorf("link show -d:\n%s", out)
	}
	// A VLAN on the VXLAN device, like ip link add link vx10 name vx10.100 type vlan id 100.
	must("link", "add", "link", "vx10", "name", "vx10.100", "type", "vlan", "id", "100")
	out = must("-d", "link", "show", "vx10.100")
	if !strings.Contains(out, ": vx10.100@vx10: <BROADCAST,MULTICAST> mtu 1450 state DOWN") ||
		!strings.Contains(out, "vlan protocol 802.1Q id 100 <REORDER_HDR>") {
		t.Errorf("vlan link show -d:\n%s", out)
	}
	fails(2, "File exists", "link", "add", "link", "vx10", "name", "vx10.x", "type", "vlan", "id", "100")
	fails(2, "Numerical result out of range", "link", "add", "link", "vx10", "name", "vx10.4095", "type", "vlan", "id", "4095")
	fails(2, "Invalid argument", "link", "add", "link", "vx10", "name", "vx10.1", "type", "vlan")
	fails(2, "Protocol not supported", "link", "add", "link", "vx10", "name", "vx10.2", "type", "vlan", "protocol", "0x0800", "id", "2")
	// Tunables, as sysctl(8) reads and writes the kernel's.
	if out := must("sysctl", "-w", "net.mpls.ip_ttl_propagate=0"); out != "net.mpls.ip_ttl_propagate = 0\n" {
		t.Errorf("sysctl -w: %q", out)
	}
	if out := must("sysctl", "net/mpls/ip_ttl_propagate"); out != "net.mpls.ip_ttl_propagate = 0\n" {
		t.Errorf("sysctl NAME: %q", out)
	}
	if out := must("sysctl", "-a"); !strings.Contains(out, "net.mpls.default_ttl = 255\n") {
		t.Errorf("sysctl -a: %q", out)
	}
	fails(255, "sysctl: cannot stat /proc/sys/net/mpls/foo: No such file or directory", "sysctl", "net.mpls.foo")
	fails(255, `sysctl: setting key "net.mpls.default_ttl": Invalid argument`, "sysctl", "net.mpls.default_ttl=0")
	fails(255, `must be of the form name=value`, "sysctl", "-w", "net.mpls.default_ttl")
	must("route", "add", "10.15.0.0/24", "encap", "mpls", "200", "ttl", "0", "via", "10.100.0.9", "dev", "u1")
	if out := must("route", "show", "10.15.0.0/24"); !strings.Contains(out, "encap mpls  200 ttl 0 via 10.100.0.9") {
		t.Errorf("route show with ttl 0: %q", out)
	}
	// The kernel's errors, through the CLI.
	fails(2, "File exists", "link", "add", "vx11", "type", "vxlan", "id", "10", "dstport", "4789", "dev", "u1")
	fails(2, "File exists", "link", "add", "vxlan1", "type", "vxlan", "external", "dstport", "4789")
	fails(2, "Invalid argument", "link", "set", "vx10", "mtu", "1451")
	fails(2, "File exists", "fdb", "add", "00:00:00:00:00:00", "dev", "vx10", "dst", "10.100.0.2")
	fails(2, "Operation not supported", "fdb", "replace", "00:00:00:00:00:00", "dev", "vx10", "dst", "10.100.0.4")
	fails(2, "Invalid argument", "route", "add", "10.14.0.0/24", "encap", "mpls", "3", "via", "10.100.0.9", "dev", "u1")
	// MPLS label routes.
	must("-f", "mpls", "route", "add", "100", "as", "200", "via", "inet", "10.100.0.9", "dev", "u1")
	out = must("-f", "mpls", "route", "show")
	if !strings.Contains(out, "100 as to 200 via inet 10.100.0.9 dev u1") {
		t.Errorf("mpls route show:\n%s", out)
	}
	fails(2, "Invalid argument", "-f", "mpls", "route", "add", "15", "via", "inet", "10.100.0.9", "dev", "u1")
	// tun_id rules.
	must("rule", "add", "tun_id", "10", "lookup", "100")
	if out = must("rule", "show"); !strings.Contains(out, "tun_id 10 lookup 100") {
		t.Errorf("rule show:\n%s", out)
	}
	// A goto rule jumps to the first rule of its target priority; with
	// none there it is shown [unresolved] and skipped, as ip rule shows.
	must("rule", "add", "to", "10.77.0.0/16", "goto", "600", "pref", "60")
	if out = must("rule", "show"); !strings.Contains(out, "60:\tfrom all to 10.77.0.0/16 goto 600 [unresolved]\n") {
		t.Errorf("rule show with an unresolved goto:\n%s", out)
	}
	must("rule", "add", "lookup", "77", "pref", "600")
	if out = must("rule", "show"); !strings.Contains(out, "60:\tfrom all to 10.77.0.0/16 goto 600\n") {
		t.Errorf("rule show with a resolved goto:\n%s", out)
	}
	fails(2, "Invalid argument", "rule", "add", "goto", "10", "pref", "70")
	// A nop rule matches and does nothing, printed as ip rule does.
	must("rule", "add", "nop", "pref", "50")
	if out = must("rule", "show"); !strings.Contains(out, "50:\tfrom all nop\n") {
		t.Errorf("rule show with a nop rule:\n%s", out)
	}
	// A lookup ending in a reject route fails as ip route get does
	// (exit 2, the route's error), after saying which route it was.
	for _, c := range []struct{ typ, msg string }{
		{"unreachable", "No route to host"}, {"prohibit", "Permission denied"}, {"blackhole", "Invalid argument"},
	} {
		must("route", "add", c.typ, "10.77.0.0/24")
		out, errs, st := fp("route", "get", "10.77.0.1")
		if st != 2 || errs != "RTNETLINK answers: "+c.msg+"\n" || !strings.HasPrefix(out, c.typ+" 10.77.0.1 ") {
			t.Errorf("route get via %s: status %d, stdout %q, stderr %q", c.typ, st, out, errs)
		}
		must("route", "del", c.typ, "10.77.0.0/24")
	}
	// Prepend and change reach the daemon; a device they name must exist.
	must("route", "prepend", "10.78.0.0/24", "dev", "u1")
	must("route", "change", "10.78.0.0/24", "dev", "u1", "mtu", "1400")
	fails(2, "No such file or directory", "route", "change", "10.79.0.0/24", "dev", "u1")
	fails(1, `Cannot find device "nosuch"`, "route", "prepend", "10.79.0.0/24", "dev", "nosuch")
}
