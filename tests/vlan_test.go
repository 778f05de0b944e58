//go:build netns

package tests

import (
	"strings"
	"testing"
	"time"
)

// taggedEcho is an independent 802.1Q peer: this machine's kernel has no
// 8021q, so a short Python program writes tagged ICMP echo requests on a
// raw AF_PACKET socket (argv: ifname src-mac dst-mac vid src-ip dst-ip
// count). Headers and checksums are built here, not by flowpath's code.
const taggedEcho = `
import socket, struct, sys, time
ifname, smac, dmac, vid, src, dst, count = sys.argv[1:8]
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
for seq in range(1, int(count) + 1):
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"tagged-echo-payload"
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0x4000, 64, 1, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(mac(dmac) + mac(smac) + struct.pack("!HHH", 0x8100, int(vid), 0x0800) + ip + icmp)
    time.sleep(0.2)
`

// TestVLANOnTheWire: a VLAN sub-interface on an AF_PACKET port answers
// tagged echo requests with tagged replies and routes tagged traffic to
// an untagged host and back; tshark on the host's wire sees VID 100 on
// every frame flowpath sends there.
func TestVLANOnTheWire(t *testing.T) {
	needRoot(t)
	if _, err := run(5*time.Second, "python3", "-c", "import socket"); err != nil {
		t.Skip("python3 not available")
	}
	tp := newTopo(t, topoConfig{kind: kindAFPacket})
	h1, h2 := tp.host("h1"), tp.host("h2")
	tp.fpctlOK("link", "add", "link", "h1", "name", "h1.100", "type", "vlan", "id", "100")
	tp.fpctlOK("link", "set", "h1.100", "up")
	tp.fpctlOK("addr", "add", "10.100.0.254/24", "dev", "h1.100")
	hostMAC := tp.hostMAC(h1)
	// The peer answers no ARP: flowpath knows it statically.
	tp.fpctlOK("neigh", "add", "10.100.0.1", "lladdr", hostMAC, "dev", "h1.100")
	out := tp.fpctlOK("-d", "link", "show", "h1.100")
	if !strings.Contains(out, "h1.100@h1:") || !strings.Contains(out, "vlan protocol 802.1Q id 100") {
		t.Fatalf("link show -d h1.100:\n%s", out)
	}
	routerMAC := tp.link("h1.100").Address

	c := tp.startCapture(tsharkSpec{ns: h1.ns, iface: "eth0", filter: "vlan and icmp and icmp[0] == 0",
		count: 4, limit: 20, settle: 500 * time.Millisecond,
		fields: []string{"vlan.id", "eth.src", "ip.src", "ip.dst", "icmp.type", "ip.checksum.status", "icmp.checksum.status"}})
	// Two echoes to flowpath's own address on the VLAN, two through it
	// to h2 (whose kernel answers; the reply comes back tagged).
	for _, dst := range []string{"10.100.0.254", h2.v4} {
		if o, err := tp.in(h1.ns, 10*time.Second, "python3", "-c", taggedEcho,
			"eth0", hostMAC, routerMAC, "100", "10.100.0.1", dst, "2"); err != nil {
			t.Fatalf("tagged echo to %s: %v\n%s", dst, err, o)
		}
	}
	replies := map[string]int{}
	for _, r := range c.rows() {
		// Every occurrence, as one string: a second tag or IP header
		// would not match.
		f := func(name string) string { return strings.Join(r[name], ",") }
		if f("vlan.id") != "100" || f("eth.src") != routerMAC || f("ip.dst") != "10.100.0.1" ||
			f("ip.checksum.status") != "1" || f("icmp.checksum.status") != "1" {
			t.Errorf("echo reply on the wire: %v", r)
		}
		replies[f("ip.src")]++
	}
	if replies["10.100.0.254"] != 2 || replies[h2.v4] != 2 {
		t.Fatalf("tagged echo replies by source %v, want 2 from 10.100.0.254 and 2 from %s:\n%s",
			replies, h2.v4, c.output())
	}
	// Counted on the VLAN device: 4 requests in, 4 replies out.
	l := tp.link("h1.100")
	if l.Stats == nil || l.Stats.RxPackets < 4 || l.Stats.TxPackets < 4 {
		t.Fatalf("h1.100 counters: %+v", l.Stats)
	}
}
