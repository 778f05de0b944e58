package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
)

// allocCase runs one batch through the pipeline per call and drains the
// peers; want1/want2 are the frames each peer must receive per call.
type allocCase struct {
	name         string
	frame        []byte
	gso          pkt.GSO
	want1, want2 int
	drop         DropReason // counted once per call, if set
}

func TestNoAllocsOnPacketPath(t *testing.T) {
	super, g := tcpSuper(ipH1, ipH2, 1448, 8*1448)
	badSum := udp4Frame(ipH1, ipH2, 64, true, 1, 2, 22)
	badSum[hdr.EthernetLen+10] ^= 0xff
	cases := []allocCase{
		{name: "ipv4 forward 64B", frame: udp4Frame(ipH1, ipH2, 64, true, 1000, 2000, 64-42), want2: 1},
		{name: "ipv6 forward", frame: udp6Frame(ip6H1, ip6H2, 64, 1000, 2000, 64), want2: 1},
		{name: "ipv4 echo reply", frame: echo4Frame(ipH1, ipR1, 56), want1: 1},
		{name: "ipv6 echo reply", frame: echo6Frame(ip6H1, ip6R1, 56), want1: 1},
		{name: "ipv4 ttl exceeded", frame: udp4Frame(ipH1, ipH2, 1, true, 1, 2, 100), want1: 1, drop: DropTTLExceeded},
		{name: "ipv6 hop limit exceeded", frame: udp6Frame(ip6H1, ip6H2, 1, 1, 2, 100), want1: 1, drop: DropTTLExceeded},
		{name: "ipv4 bad checksum", frame: badSum, drop: DropIPv4Checksum},
		{name: "gso segmented for plain port", frame: super, gso: g, want2: 8},
		{name: "ipv4 fragmented", frame: udp4Frame(ipH1, ipH2, 64, false, 1, 2, 3000), want2: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRig(t, rigOpts{cfg: func(c *Config) { c.ICMPRate, c.ICMPBurst = 1<<30, 1<<20 }})
			var bad []string
			var drops uint64
			f := func() {
				r.batch[0] = r.packet(t, c.frame, c.gso)
				r.w.processBatch(r.batch[:1])
				r.w.flush()
				n1, n2 := r.drainPeers()
				if n1 != c.want1 || n2 != c.want2 {
					bad = append(bad, "") // noted outside the measurement
				}
			}
			allocs := testing.AllocsPerRun(1000, f)
			if len(bad) != 0 {
				t.Fatalf("%d runs did not send %d/%d frames", len(bad), c.want1, c.want2)
			}
			if allocs != 0 {
				t.Fatalf("%v allocations per packet", allocs)
			}
			if c.drop != DropNone {
				drops = r.w.c.drops[c.drop].Load()
				if drops != 1001 {
					t.Fatalf("drop %s counted %d times, want 1001", c.drop, drops)
				}
			}
			if r.w.pool.Available() != r.w.pool.Size() {
				t.Fatalf("%d of %d packets not back in the pool", r.w.pool.Size()-r.w.pool.Available(), r.w.pool.Size())
			}
			if st := r.w.pool.Stats(); st.DoubleFree != 0 || st.Foreign != 0 || st.Exhausted != 0 {
				t.Fatalf("pool stats %+v", st)
			}
		})
	}
}

// withTag returns frame with an 802.1Q tag for vid behind its MACs.
func withTag(frame []byte, vid uint16) []byte {
	out := append([]byte(nil), frame[:12]...)
	out = binary.BigEndian.AppendUint16(out, hdr.EtherTypeVLAN)
	out = binary.BigEndian.AppendUint16(out, vid)
	return append(out, frame[12:]...)
}

// Tagged in on one VLAN device, routed, tagged out on another: no
// allocation either, and the frame leaves with the other VID.
func TestNoAllocsVLAN(t *testing.T) {
	r := newRig(t, rigOpts{vlans: true})
	frame := withTag(udp4Frame(netip.MustParseAddr("10.55.0.1"), netip.MustParseAddr("10.66.0.1"), 64, true, 1, 2, 22), 5)
	r.run(t, frame)
	out := r.take(1)
	if len(out) != 1 || len(out[0]) != len(frame) || binary.BigEndian.Uint16(out[0][12:]) != hdr.EtherTypeVLAN ||
		binary.BigEndian.Uint16(out[0][14:]) != 6 {
		t.Fatalf("want one frame tagged VID 6 on r2, got %d: % x", len(out), out)
	}
	wrong := 0
	allocs := testing.AllocsPerRun(1000, func() {
		r.batch[0] = r.packet(t, frame, pkt.GSO{})
		r.w.processBatch(r.batch[:1])
		r.w.flush()
		if n1, n2 := r.drainPeers(); n1 != 0 || n2 != 1 {
			wrong++
		}
	})
	if wrong != 0 {
		t.Fatalf("%d of 1001 runs did not send one frame on r2", wrong)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per packet", allocs)
	}
}

// TestNoAllocsFullBatch forwards whole batches of 64 different flows.
func TestNoAllocsFullBatch(t *testing.T) {
	r := newRig(t, rigOpts{hashL4: true})
	frames := make([][]byte, pkt.BatchSize)
	for i := range frames {
		frames[i] = udp4Frame(ipH1, ipH2, 64, true, uint16(1000+i), 53, 22)
	}
	bad := 0
	allocs := testing.AllocsPerRun(200, func() {
		for i, f := range frames {
			r.batch[i] = r.packet(t, f, pkt.GSO{})
		}
		r.w.processBatch(r.batch[:])
		r.w.flush()
		if _, n2 := r.drainPeers(); n2 != pkt.BatchSize {
			bad++
		}
	})
	if bad != 0 || allocs != 0 {
		t.Fatalf("%d short batches, %v allocations per batch", bad, allocs)
	}
}

// Segments of one flow forwarded to a port that takes GSO leave as one
// super-frame (gso.Coalesce in flushDev): no allocation either.
func TestNoAllocsCoalesce(t *testing.T) {
	// A sink, not a memory port: the memory port's warm-up growth of
	// each ring slot to a super-frame would be counted.
	sink := &sinkPort{mac: macR2, offload: port.Offloads{RxGSO: true, TxGSO: true, TxUSO: true}}
	r := newRig(t, rigOpts{r2Port: sink})
	const n = 8
	var frames [n][]byte
	for i := range frames {
		f := udp4Frame(ipH1, ipH2, 64, true, 1000, 2000, 1000)
		ip := hdr.IPv4(f[hdr.EthernetLen:])
		ip.SetID(uint16(100 + i))
		ip.UpdateChecksum()
		u := hdr.UDP(f[hdr.EthernetLen+20:])
		u.SetChecksum(hdr.TransportChecksum(ip.Src(), ip.Dst(), hdr.IPProtoUDP, u))
		frames[i] = f
	}
	bad := 0
	allocs := testing.AllocsPerRun(500, func() {
		for i := range frames {
			r.batch[i] = r.packet(t, frames[i], pkt.GSO{})
		}
		before := sink.sent.Load()
		r.w.processBatch(r.batch[:n])
		r.w.flush()
		if sink.sent.Load() != before+1 {
			bad++
		}
	})
	if bad != 0 {
		t.Fatalf("%d runs did not send one merged frame", bad)
	}
	if allocs != 0 {
		t.Fatalf("%v allocations per batch", allocs)
	}
	if got := r.w.c.coalesced.Load(); got != 501*(n-1) {
		t.Fatalf("coalesced %d, want %d", got, 501*(n-1))
	}
	if r.w.pool.Available() != r.w.pool.Size() {
		t.Fatal("packets not back in the pool")
	}
}
