package scenario

import (
	"math/rand/v2"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"flowpath/internal/hdr"
)

// diff returns the counters that changed between two snapshots.
func diff(before, after map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	for k, v := range after {
		if v != before[k] {
			out[k] = v - before[k]
		}
	}
	for k, v := range before {
		if _, ok := after[k]; !ok && v != 0 {
			out[k] = 0 // went backwards: shows up as a mismatch
		}
	}
	return out
}

func TestBadInputCountedAndSilent(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()

	good := h1.udp4("10.2.0.1", 1, 2, 64, true, []byte("a perfectly good packet"))
	good6 := h1.udp6("fd00:2::1", 1, 2, 64, []byte("a perfectly good packet"))
	mod := func(b []byte, f func(b []byte)) []byte {
		c := append([]byte(nil), b...)
		f(c)
		return c
	}
	fixsum := func(b []byte) { hdr.IPv4(b[14:]).UpdateChecksum() }
	cases := []struct {
		name   string
		frame  []byte
		reason string
	}{
		{"truncated ethernet", good[:10], "l2_invalid"},
		{"empty frame", []byte{}, "l2_invalid"},
		{"ipv4 ihl 4", mod(good, func(b []byte) { b[14] = 0x44; fixsum(b) }), "ipv4_header_invalid"},
		{"ipv4 ihl beyond frame", mod(good, func(b []byte) { b[14] = 0x4f; fixsum(b) }), "ipv4_header_invalid"},
		{"ipv4 total length beyond frame", mod(good, func(b []byte) { b[16], b[17] = 0x05, 0xdc; fixsum(b) }), "ipv4_header_invalid"},
		{"ipv4 total length below header", mod(good, func(b []byte) { b[16], b[17] = 0, 12; fixsum(b) }), "ipv4_header_invalid"},
		{"ipv4 version 6", mod(good, func(b []byte) { b[14] = 0x65; fixsum(b) }), "ipv4_header_invalid"},
		{"ipv4 truncated header", good[:14+12], "ipv4_header_invalid"},
		{"ipv4 bad checksum", mod(good, func(b []byte) { b[24] ^= 0x55 }), "ipv4_checksum"},
		{"ipv6 too short", good6[:14+30], "ipv6_header_invalid"},
		{"ipv6 payload length beyond frame", mod(good6, func(b []byte) { b[18], b[19] = 0x10, 0 }), "ipv6_header_invalid"},
		{"ipv6 version 4", mod(good6, func(b []byte) { b[14] = 0x40 }), "ipv6_header_invalid"},
		{"arp garbage", append(append([]byte(nil), good[:12]...), 0x08, 0x06, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10), "arp_invalid"},
		{"arp for another protocol", mod(serialize(t, &layers.Ethernet{SrcMAC: h1.mac[:], DstMAC: h1.rmac[:], EthernetType: layers.EthernetTypeARP},
			&layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4, HwAddressSize: 6, ProtAddressSize: 4,
				Operation: layers.ARPRequest, SourceHwAddress: h1.mac[:], SourceProtAddress: h1.ip4.AsSlice(),
				DstHwAddress: make([]byte, 6), DstProtAddress: []byte{10, 1, 0, 254}}), func(b []byte) { b[16] = 0x86; b[17] = 0xdd }), "arp_invalid"},
		{"unknown ethertype", mod(good, func(b []byte) { b[12], b[13] = 0x88, 0xb5 }), "unknown_ethertype"},
		{"vlan tagged", append(append(append([]byte(nil), good[:12]...), 0x81, 0x00, 0x00, 0x05), good[12:]...), "vlan_unknown"},
		{"qinq tagged", append(append(append([]byte(nil), good[:12]...), 0x88, 0xa8, 0x00, 0x05), good[12:]...), "vlan_unknown"},
		{"unicast to another MAC", mod(good, func(b []byte) { b[5] = 0x77 }), "other_host"},
		{"martian source loopback", mod(good, func(b []byte) { copy(b[26:], []byte{127, 0, 0, 1}); fixsum(b) }), "martian_source"},
		{"martian source multicast", mod(good, func(b []byte) { copy(b[26:], []byte{224, 1, 2, 3}); fixsum(b) }), "martian_source"},
		{"martian source broadcast", mod(good, func(b []byte) { copy(b[26:], []byte{255, 255, 255, 255}); fixsum(b) }), "martian_source"},
		{"martian source unspecified", mod(good, func(b []byte) { copy(b[26:], []byte{0, 0, 0, 0}); fixsum(b) }), "martian_source"},
		{"martian source zero network", mod(good, func(b []byte) { copy(b[26:], []byte{0, 1, 2, 3}); fixsum(b) }), "martian_source"},
		{"martian destination zero network", mod(good, func(b []byte) { copy(b[30:], []byte{0, 1, 2, 3}); fixsum(b) }), "martian_destination"},
		{"martian destination loopback", mod(good, func(b []byte) { copy(b[30:], []byte{127, 0, 0, 9}); fixsum(b) }), "martian_destination"},
		{"echo with a bad icmp checksum", mod(serialize(t, h1.eth(layers.EthernetTypeIPv4), h1.ip4hdr("10.1.0.254", layers.IPProtocolICMPv4, 64),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 1, Seq: 1}), func(b []byte) { b[14+20+2] ^= 0x10 }),
			"icmp_invalid"},
		{"fragment for the router of a length not a multiple of 8", mod(h1.udp4("10.1.0.254", 1, 2, 64, false, []byte("a fragment")), func(b []byte) { b[20] = 0x20; fixsum(b) }),
			"reasm_invalid"},
		{"ipv6 martian source loopback", mod(good6, func(b []byte) { clear(b[22:38]); b[37] = 1 }), "martian_source"},
		{"ipv6 martian source multicast", mod(good6, func(b []byte) { b[22] = 0xff }), "martian_source"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.t = t
			defer func() { h.t = nil }()
			before, lb := h.drops(), h.linkStats("r1")
			h1.inject(c.frame)
			h1.quiet()
			h2.quiet()
			d := diff(before, h.drops())
			if len(d) != 1 || d[c.reason] != 1 {
				t.Fatalf("drop counters changed by %v, want %s +1", d, c.reason)
			}
			la := h.linkStats("r1")
			if la.RxDropped != lb.RxDropped+1 || la.Drops[c.reason] != lb.Drops[c.reason]+1 {
				t.Fatalf("link show r1: rx_dropped %d -> %d, %s %d -> %d", lb.RxDropped, la.RxDropped,
					c.reason, lb.Drops[c.reason], la.Drops[c.reason])
			}
		})
	}
	h.t = t
	// The good packets still go through afterwards.
	h1.inject(good)
	checkForwarded4(t, h2.recv(), good, h1, h2)
}

// TestGarbageNeverPanics throws random and mutated frames at the router
// and checks it keeps working and every packet buffer comes back.
func TestGarbageNeverPanics(t *testing.T) {
	h, h1, h2 := twoHosts(t, false)
	h1.permanent()
	h2.permanent()
	r := rand.New(rand.NewPCG(1, 2))
	seeds := [][]byte{
		h1.udp4("10.2.0.1", 1, 2, 64, true, []byte("seed packet")),
		h1.udp4("10.1.0.254", 1, 2, 64, true, []byte("seed to router")),
		h1.udp6("fd00:2::1", 1, 2, 64, []byte("seed packet")),
		h1.udp6("fd00:2::1", 1, 2, 1, []byte("seed packet")),
		h1.udp4("10.2.0.1", 1, 2, 1, true, []byte("seed packet")),
	}
	sent := 0
	for round := 0; round < 20; round++ {
		for i := 0; i < 100; i++ {
			var b []byte
			if r.IntN(4) == 0 {
				b = make([]byte, r.IntN(200))
				for k := range b {
					b[k] = byte(r.Uint32())
				}
				if len(b) >= 14 {
					copy(b, h1.rmac[:])
				}
			} else {
				b = append([]byte(nil), seeds[r.IntN(len(seeds))]...)
				for n := r.IntN(4) + 1; n > 0; n-- {
					b[r.IntN(len(b))] = byte(r.Uint32())
				}
				if r.IntN(3) == 0 {
					b = b[:r.IntN(len(b)+1)]
				}
			}
			if !h1.port.Inject(b) {
				break // ring full; the next round goes on
			}
			sent++
		}
		// Drain what the router sent: replies, errors, forwarded frames.
		h1.sync()
		h2.port.TakeSent(0)
	}
	if sent < 1000 {
		t.Fatalf("only %d frames injected", sent)
	}
	// Still forwarding, and no packet buffer is leaked.
	// The neighbour manager may still be soliciting for mutated
	// destinations: skip its ARP requests and NSes.
	good := h1.udp4("10.2.0.1", 1, 2, 64, true, []byte("still alive"))
	h1.inject(good)
	p := h2.recv()
	for isSolicit(p) {
		p = h2.recv()
	}
	checkForwarded4(t, p, good, h1, h2)
	for _, p := range h1.sync() {
		if !isSolicit(p) {
			t.Fatalf("unexpected frame after the storm: %v", p)
		}
	}
	st := h.stats()
	for _, w := range st.Workers {
		// Mutated destinations in 10.2.0.0/24 wait for ARP: those are
		// the only packets a worker may hold now.
		if w.PoolInUse != int64(w.Pending) {
			t.Fatalf("worker %d on %s holds %d packets after the storm, %d of them pending resolution",
				w.ID, w.Port, w.PoolInUse, w.Pending)
		}
	}
}

// isSolicit reports whether p is an ARP request or a neighbour
// solicitation (the neighbour manager's, sent asynchronously).
func isSolicit(p gopacket.Packet) bool {
	if a, ok := p.Layer(layers.LayerTypeARP).(*layers.ARP); ok {
		return a.Operation == layers.ARPRequest
	}
	return p.Layer(layers.LayerTypeICMPv6NeighborSolicitation) != nil
}
