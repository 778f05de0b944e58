package tap

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"testing"
	"time"

	"flowpath/internal/errs"
	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/port"
	"flowpath/internal/port/afpacket"
	"flowpath/internal/sys"
	"flowpath/internal/sys/nstest"
)

var _ port.Port = (*Port)(nil)

var peerMAC = [6]byte{2, 0, 0, 0, 0, 2}

func open(t *testing.T, ns *nstest.NS, name string, cfg Config) *Port {
	t.Helper()
	var p *Port
	if err := ns.Do(func() (err error) {
		p, err = Open(name, cfg)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func csum(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func fold(sum uint32) uint16 {
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return uint16(sum)
}

// udpFrame builds Ethernet/IPv4/UDP. With partial, the UDP checksum field
// holds only the pseudo-header sum and g says where to finish it (what a
// virtio-net NEEDS_CSUM frame looks like); otherwise the checksum is full.
func udpFrame(dst, src [6]byte, sip, dip netip.Addr, sport, dport uint16, payload []byte, partial bool) ([]byte, pkt.GSO) {
	f := make([]byte, 42+len(payload))
	copy(f, dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], uint16(28+len(payload)))
	s4, d4 := sip.As4(), dip.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(csum(0, ip)))
	udp := f[34:]
	binary.BigEndian.PutUint16(udp[0:], sport)
	binary.BigEndian.PutUint16(udp[2:], dport)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(payload)))
	copy(udp[8:], payload)
	pseudo := csum(0, s4[:]) + csum(0, d4[:]) + 17 + uint32(8+len(payload))
	var g pkt.GSO
	if partial {
		binary.BigEndian.PutUint16(udp[6:], fold(pseudo))
		g = pkt.GSO{NeedsCsum: true, CsumStart: 34, CsumOffset: 6}
	} else {
		c := ^fold(csum(pseudo, udp))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(udp[6:], c)
	}
	return f, g
}

func TestOpenErrors(t *testing.T) {
	ns := nstest.New(t, "porttaperr")
	err := ns.Do(func() error {
		_, err := Open("a-name-longer-than-ifnamsiz", Config{})
		return err
	})
	if !errors.Is(err, errs.ErrInvalid) {
		t.Fatalf("long name: %v", err)
	}
	// A TAP name taken by a veth.
	nstest.Veth(t, ns, "v0", ns, "v1")
	err = ns.Do(func() error {
		_, err := Open("v0", Config{})
		return err
	})
	if err == nil {
		t.Fatal("opened a veth as a TAP")
	}
}

// TestFrames: the kernel sends a UDP datagram out of the TAP and Receive
// gets it; Transmit injects UDP datagrams (full and partial checksum) that
// a socket in the namespace receives.
// hostSocket gives the TAP dev 10.8.0.1/24 and a permanent neighbour
// 10.8.0.2 (peerMAC), and returns a UDP socket on 10.8.0.1:9998 whose
// datagrams to 10.8.0.2 leave through the TAP. Closed by the test's end.
func hostSocket(t *testing.T, ns *nstest.NS, dev string) *net.UDPConn {
	t.Helper()
	ns.IP(t, "addr", "add", "10.8.0.1/24", "dev", dev)
	ns.IP(t, "neigh", "add", "10.8.0.2", "lladdr", "02:00:00:00:00:02", "dev", dev, "nud", "permanent")
	var conn *net.UDPConn
	if err := ns.Do(func() (err error) {
		conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 8, 0, 1), Port: 9998})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// forWaits runs test with receivers parked in the runtime poller (the
// default) and blocked in ppoll.
func forWaits(t *testing.T, test func(t *testing.T, ppoll bool)) {
	t.Run("poller", func(t *testing.T) { test(t, false) })
	t.Run("ppoll", func(t *testing.T) { test(t, true) })
}

func TestFrames(t *testing.T) { forWaits(t, testFrames) }

func testFrames(t *testing.T, ppoll bool) {
	ns := nstest.New(t, "porttap")
	p := open(t, ns, "fptap0", Config{NumTx: 2, MTU: 1400, Ppoll: ppoll})
	if p.Kind() != "tap" || p.Name() != "fptap0" || p.MTU() != 1400 || p.HardwareAddr() == ([6]byte{}) ||
		!p.Offloads().RxGSO || !p.Offloads().TxGSO {
		t.Fatalf("identity: %s %d %v %v", p.Name(), p.MTU(), p.HardwareAddr(), p.Offloads())
	}
	t.Logf("kernel offloads %#x", p.KernelOffloads())
	conn := hostSocket(t, ns, "fptap0")

	// Kernel → TAP.
	if _, err := conn.WriteToUDPAddrPort([]byte("hello"), netip.MustParseAddrPort("10.8.0.2:9999")); err != nil {
		t.Fatal(err)
	}
	pool := pkt.NewPool("t", 64)
	got := make([]*pkt.Packet, 16)
	var frame []byte
	var g pkt.GSO
	for deadline := time.Now().Add(2 * time.Second); frame == nil && time.Now().Before(deadline); {
		n := p.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
		for _, pk := range got[:n] {
			b := pk.Bytes()
			if len(b) >= 47 && binary.BigEndian.Uint16(b[12:]) == 0x0800 && b[23] == 17 && binary.BigEndian.Uint16(b[36:]) == 9999 {
				frame, g = append([]byte(nil), b...), pk.GSO
			}
			pk.Free()
		}
	}
	if frame == nil {
		t.Fatal("datagram did not come out of the TAP")
	}
	if !bytes.Equal(frame[0:6], peerMAC[:]) || !bytes.Equal(frame[6:12], p.mac[:]) || string(frame[42:]) != "hello" {
		t.Fatalf("frame %x", frame)
	}
	t.Logf("kernel datagram GSO state %+v", g)
	if g.NeedsCsum && (g.CsumStart != 34 || g.CsumOffset != 6) {
		t.Fatalf("partial checksum at %d+%d", g.CsumStart, g.CsumOffset)
	}

	// TAP → kernel, full and partial checksum, from both transmit queues.
	for i, partial := range []bool{false, true} {
		msg := []byte{'w', 'o', 'r', 'l', 'd', byte('0' + i)}
		f, gso := udpFrame(p.mac, peerMAC, netip.MustParseAddr("10.8.0.2"), netip.MustParseAddr("10.8.0.1"), 7777, 9998, msg, partial)
		pk := pool.Get()
		pk.SetBytes(f)
		pk.GSO = gso
		if p.TxQueue(i).Transmit([]*pkt.Packet{pk}) != 1 {
			t.Fatal("transmit")
		}
		pk.Free()
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 100)
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != string(msg) || from.String() != "10.8.0.2:7777" {
			t.Fatalf("partial=%v: got %q from %v: %v", partial, buf[:n], from, err)
		}
	}
	// A runt is dropped and counted.
	pk := pool.Get()
	pk.SetBytes(make([]byte, 10))
	if p.TxQueue(0).Transmit([]*pkt.Packet{pk}) != 0 {
		t.Fatal("runt sent")
	}
	pk.Free()
	s := p.Stats()
	if s.TxPackets != 2 || s.TxDropped != 1 || s.RxPackets == 0 {
		t.Fatalf("stats %+v", s)
	}
	if pool.Stats().InUse != 0 {
		t.Fatal("leak")
	}
}

// TestTCPThroughTaps moves two TAPs into two hosts and joins them with a
// userspace wire:
//
//	h1 [fpta 10.10.0.1] ⇄ port A ⇄ wire ⇄ port B ⇄ [fptb 10.10.0.2] h2
//
// TCP must arrive intact, and the kernel must have handed port A GSO
// super-frames (TSO through TUNSETOFFLOAD) that port B wrote back whole.
func TestTCPThroughTaps(t *testing.T) { forWaits(t, testTCPThroughTaps) }

func testTCPThroughTaps(t *testing.T, ppoll bool) {
	h1, r, h2 := nstest.New(t, "porttaph1"), nstest.New(t, "porttapr"), nstest.New(t, "porttaph2")
	a := open(t, r, "fpta", Config{Ppoll: ppoll})
	b := open(t, r, "fptb", Config{Ppoll: ppoll})
	r.IP(t, "link", "set", "fpta", "netns", h1.Name)
	r.IP(t, "link", "set", "fptb", "netns", h2.Name)
	h1.IP(t, "addr", "add", "10.10.0.1/24", "dev", "fpta")
	h2.IP(t, "addr", "add", "10.10.0.2/24", "dev", "fptb")
	h1.IP(t, "link", "set", "fpta", "up")
	h2.IP(t, "link", "set", "fptb", "up")
	var w nstest.Wire
	w.Run(a.RxQueues()[0], b.TxQueue(0), a.MTU())
	w.Run(b.RxQueues()[0], a.TxQueue(0), b.MTU())
	defer w.Close()
	const size = 256 << 20
	d := nstest.Transfer(t, h1, h2, "10.10.0.2:5201", size, 30*time.Second)
	w.Close()
	t.Logf("%d MiB in %v: %.2f Gbit/s; %d frames, %d GSO (%d > MTU), largest %d B",
		size>>20, d.Round(time.Millisecond), float64(size)*8/d.Seconds()/1e9,
		w.Frames.Load(), w.GSO.Load(), w.BigGSO.Load(), w.MaxLen.Load())
	if w.BigGSO.Load() == 0 {
		t.Fatal("no GSO super-frame came out of the TAP")
	}
	sa, sb := a.Stats(), b.Stats()
	if sa.TxDropped+sb.TxDropped+sa.RxDropped+sb.RxDropped != 0 {
		t.Errorf("drops: A %+v B %+v", sa, sb)
	}
}

// TestMultiQueue opens a two-queue TAP and checks Close wakes receivers
// blocked on both queues.
func TestMultiQueueClose(t *testing.T) { forWaits(t, testMultiQueueClose) }

func testMultiQueueClose(t *testing.T, ppoll bool) {
	ns := nstest.New(t, "porttapmq")
	p := open(t, ns, "fptmq", Config{Queues: 2, NumTx: 3, Ppoll: ppoll})
	if len(p.RxQueues()) != 2 || p.NumTx() != 3 {
		t.Fatal("queues")
	}
	done := make(chan int, 2)
	for _, q := range p.RxQueues() {
		go func() {
			// Frames the kernel sends on link-up (IPv6 router
			// solicitations) may arrive first; receive until Close.
			pool := pkt.NewPool("r", 4)
			got := make([]*pkt.Packet, 4)
			for {
				n := q.Receive(pool, got, time.Hour)
				pool.PutBatch(got[:n])
				if n == 0 {
					done <- q.Receive(pool, got, time.Hour)
					return
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	p.Close()
	for i := 0; i < 2; i++ {
		select {
		case n := <-done:
			if n != 0 {
				t.Fatal("received after close")
			}
		case <-time.After(3 * time.Second):
			t.Fatal("Close did not unblock Receive")
		}
	}
	// The TAP was ours, not persistent: it is gone.
	if out := ns.IP(t, "link", "show"); bytes.Contains([]byte(out), []byte("fptmq")) {
		t.Fatalf("TAP left behind:\n%s", out)
	}
}

// echoFrame builds an ICMP echo request (Ethernet/IPv4) with id and seq.
func echoFrame(dst, src [6]byte, sip, dip netip.Addr, seq uint16) []byte {
	f := make([]byte, 14+20+8+56)
	copy(f, dst[:])
	copy(f[6:], src[:])
	binary.BigEndian.PutUint16(f[12:], 0x0800)
	ip := f[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 1
	binary.BigEndian.PutUint16(ip[2:], uint16(len(f)-14))
	s4, d4 := sip.As4(), dip.As4()
	copy(ip[12:], s4[:])
	copy(ip[16:], d4[:])
	binary.BigEndian.PutUint16(ip[10:], ^fold(csum(0, ip)))
	icmp := f[34:]
	icmp[0] = 8
	binary.BigEndian.PutUint16(icmp[4:], 0x4242)
	binary.BigEndian.PutUint16(icmp[6:], seq)
	binary.BigEndian.PutUint16(icmp[2:], ^fold(csum(0, icmp)))
	return f
}

// TestNoAllocs: Transmit and Receive on a TAP allocate nothing. The kernel
// answers our ICMP echo requests (echo replies are not rate limited), so
// the test drives both directions without a socket of its own.
func TestNoAllocs(t *testing.T) { forWaits(t, testNoAllocs) }

func testNoAllocs(t *testing.T, ppoll bool) {
	ns := nstest.New(t, "porttapal")
	p := open(t, ns, "fptal", Config{Ppoll: ppoll})
	ns.IP(t, "addr", "add", "10.8.0.1/24", "dev", "fptal")
	ns.IP(t, "neigh", "add", "10.8.0.2", "lladdr", "02:00:00:00:00:02", "dev", "fptal", "nud", "permanent")
	pool := pkt.NewPool("t", 64)
	batch := make([]*pkt.Packet, 8)
	for i := range batch {
		batch[i] = pool.Get()
		batch[i].SetBytes(echoFrame(p.mac, peerMAC, netip.MustParseAddr("10.8.0.2"), netip.MustParseAddr("10.8.0.1"), uint16(i)))
	}
	got := make([]*pkt.Packet, 16)
	rx, tx := p.RxQueues()[0], p.TxQueue(0)
	run := func() {
		if tx.Transmit(batch) != len(batch) {
			t.Fatal("transmit")
		}
		for n := 0; n < len(batch); {
			k := rx.Receive(pool, got, 500*time.Millisecond)
			if k == 0 {
				t.Fatalf("%d of %d echo replies", n, len(batch))
			}
			for _, pk := range got[:k] {
				if b := pk.Bytes(); len(b) > 34 && b[23] == 1 && b[34] == 0 {
					n++
				}
			}
			pool.PutBatch(got[:k])
		}
	}
	run()
	if allocs := testing.AllocsPerRun(50, run); allocs != 0 {
		t.Fatalf("%v allocations per Transmit+Receive", allocs)
	}
}

// TestPersistent attaches to a TAP made by ip tuntap and leaves it there.
func TestPersistent(t *testing.T) {
	ns := nstest.New(t, "porttapp")
	ns.IP(t, "tuntap", "add", "dev", "fptp", "mode", "tap", "vnet_hdr")
	p := open(t, ns, "fptp", Config{NumTx: 2})
	if p.Name() != "fptp" || !p.Offloads().TxGSO {
		t.Fatal("attach")
	}
	p.Close()
	if out := ns.IP(t, "link", "show", "fptp"); !bytes.Contains([]byte(out), []byte("fptp")) {
		t.Fatal("persistent TAP removed")
	}
	// A pattern name gets a fresh device.
	q := open(t, ns, "fpq%d", Config{})
	if q.Name() != "fpq0" {
		t.Fatalf("pattern gave %q", q.Name())
	}
}

func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestPoolEmpty: with an empty pool and frames waiting, Receive sleeps out
// its timeout without spinning, and the frames are still there after.
func TestPoolEmpty(t *testing.T) {
	ns := nstest.New(t, "porttappe")
	p := open(t, ns, "fptpe", Config{})
	ns.IP(t, "addr", "add", "10.8.0.1/24", "dev", "fptpe")
	ns.IP(t, "neigh", "add", "10.8.0.2", "lladdr", "02:00:00:00:00:02", "dev", "fptpe", "nud", "permanent")
	pool := pkt.NewPool("t", 64)
	pk := pool.Get()
	pk.SetBytes(echoFrame(p.mac, peerMAC, netip.MustParseAddr("10.8.0.2"), netip.MustParseAddr("10.8.0.1"), 1))
	p.TxQueue(0).Transmit([]*pkt.Packet{pk})
	pk.Free()
	hold := make([]*pkt.Packet, 64)
	pool.GetBatch(hold)
	got := make([]*pkt.Packet, 8)
	runtime.LockOSThread()
	t0, c0 := time.Now(), threadCPU()
	n := p.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
	d, c := time.Since(t0), threadCPU()-c0
	runtime.UnlockOSThread()
	if n != 0 || d < 100*time.Millisecond || c > 30*time.Millisecond {
		t.Fatalf("starved Receive: %d frames after %v, %v CPU", n, d, c)
	}
	pool.PutBatch(hold)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		n := p.RxQueues()[0].Receive(pool, got, 50*time.Millisecond)
		for _, pk := range got[:n] {
			if b := pk.Bytes(); len(b) > 34 && b[23] == 1 && b[34] == 0 {
				pool.PutBatch(got[:n])
				return
			}
		}
		pool.PutBatch(got[:n])
	}
	t.Fatal("echo reply lost")
}

// TestUDPTunnelGSOWrite hands the kernel one VXLAN datagram around a TCP
// super-frame of ten segments, with the tunnel offsets in the header
// (pkt.GSO.OuterL4), over IPv4 and IPv6, with the outer UDP checksum asked
// for (partial) and not. The kernel routes it out of a veth whose
// UDP-tunnel segmentation and checksum offload are off, so it must cut it
// there, as UDP-tunnel GSO: ten whole VXLAN datagrams arrive on the far
// end, each with its lengths right, an outer checksum that is good (or
// zero when none was asked for) and the inner segment's TCP checksum good.
// (Read as plain TCP GSO, the outer UDP packet would not segment at all.)
// On kernels before 6.17 the TAP does not offer the offload, and a frame
// marked so is refused.
//
//	[port] fptapu0 ⇄ kernel (forwarding) ─ v0 ═ veth ═ v1 ─ [afpacket] far
func TestUDPTunnelGSOWrite(t *testing.T) {
	for _, c := range []struct{ v6, csum bool }{{false, false}, {false, true}, {true, false}, {true, true}} {
		t.Run(fmt.Sprintf("ipv6=%v,csum=%v", c.v6, c.csum), func(t *testing.T) { testUDPTunnelGSOWrite(t, c.v6, c.csum) })
	}
}

func testUDPTunnelGSOWrite(t *testing.T, v6, withCsum bool) {
	ns, far := nstest.New(t, "porttapug"), nstest.New(t, "porttapugf")
	p := open(t, ns, "fptapu0", Config{})
	pool := pkt.NewPool("t", 64)
	const segs, mss = 10, 1000
	inner := make([]byte, 14+20+20+segs*mss)
	ipLen, et := 20, uint16(0x0800)
	if v6 {
		ipLen, et = 40, 0x86dd
	}
	udp := 14 + ipLen
	outer := udp + 8 + 8
	if !p.Offloads().TxUDPTunnelGSO {
		pk := pool.Get()
		pk.SetBytes(make([]byte, outer+len(inner)))
		pk.GSO = pkt.GSO{Type: pkt.GSOTCPv4, NeedsCsum: true, OuterL4: uint16(udp), InnerL3: uint16(outer + 14)}
		if p.TxQueue(0).Transmit([]*pkt.Packet{pk}) != 0 {
			t.Fatal("tunnel GSO frame sent by a TAP without the offload")
		}
		pk.Free()
		t.Skip("this kernel's TAP takes no UDP-tunnel GSO (before Linux 6.17)")
	}
	nstest.Veth(t, ns, "v0", far, "v1")
	src, dst := netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.77.0.2")
	if v6 {
		src, dst = netip.MustParseAddr("fd00:9::2"), netip.MustParseAddr("fd00:77::2")
		ns.Exec(t, "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1")
		ns.IP(t, "addr", "add", "fd00:9::1/64", "dev", "fptapu0", "nodad")
		ns.IP(t, "addr", "add", "fd00:77::1/64", "dev", "v0", "nodad")
	} else {
		ns.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1")
		ns.IP(t, "addr", "add", "10.9.0.1/24", "dev", "fptapu0")
		ns.IP(t, "addr", "add", "10.77.0.1/24", "dev", "v0")
	}
	ns.IP(t, "link", "set", "v0", "up")
	ns.IP(t, "neigh", "add", dst.String(), "lladdr", "02:00:00:00:77:02", "dev", "v0", "nud", "permanent")
	// No tunnel segmentation and no checksum offload on v0: the kernel
	// cuts the frame and fills in every checksum itself before the wire.
	ns.Exec(t, "ethtool", "-K", "v0", "tx-udp_tnl-segmentation", "off", "tx-udp_tnl-csum-segmentation", "off", "tx", "off")
	far.IP(t, "link", "set", "v1", "address", "02:00:00:00:77:02")
	var rx *afpacket.Port
	if err := far.Do(func() (err error) {
		rx, err = afpacket.Open("v1", afpacket.Config{NoVnetHdr: true, Recvmmsg: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rx.Close() })

	// Inner: Ethernet, IPv4 10.99.0.2 -> 10.99.0.1, TCP with its checksum
	// partial, ten MSS of payload.
	copy(inner, []byte{2, 0, 0, 0, 0x10, 1, 2, 0, 0, 0, 0x10, 2, 8, 0})
	ip := inner[14:34]
	ip[0], ip[6], ip[8], ip[9] = 0x45, 0x40, 64, 6
	binary.BigEndian.PutUint16(ip[2:], uint16(len(inner)-14))
	copy(ip[12:], []byte{10, 99, 0, 2, 10, 99, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], ^fold(csum(0, ip)))
	tcp := inner[34:54]
	binary.BigEndian.PutUint16(tcp[0:], 40000)
	binary.BigEndian.PutUint16(tcp[2:], 5201)
	binary.BigEndian.PutUint32(tcp[4:], 1)
	tcp[12], tcp[13] = 5<<4, 0x10 // ACK
	binary.BigEndian.PutUint16(tcp[14:], 512)
	binary.BigEndian.PutUint16(tcp[16:], fold(csum(0, ip[12:20])+6+uint32(len(inner)-34)))
	for i := 54; i < len(inner); i++ {
		inner[i] = byte(i)
	}
	// Outer: Ethernet to the TAP, IP src -> dst (routed on through v0),
	// UDP to 4789 (checksum partial or none), VXLAN VNI 10.
	f := make([]byte, outer+len(inner))
	copy(f, p.mac[:])
	copy(f[6:], peerMAC[:])
	binary.BigEndian.PutUint16(f[12:], et)
	if v6 {
		hdr.PutIPv6(f[14:], &hdr.IPv6Fields{PayloadLen: uint16(len(f) - udp), NextHeader: 17, HopLimit: 64, Src: src, Dst: dst})
	} else {
		hdr.PutIPv4(f[14:], &hdr.IPv4Fields{TotalLen: uint16(len(f) - 14), DF: true, TTL: 64, Protocol: 17, Src: src, Dst: dst})
	}
	hdr.PutUDP(f[udp:], 50000, 4789, uint16(len(f)-udp))
	if withCsum {
		binary.BigEndian.PutUint16(f[udp+6:], ^hdr.Fold(hdr.PseudoHeaderSum(src, dst, 17, len(f)-udp)))
	}
	copy(f[udp+8:], []byte{8, 0, 0, 0, 0, 0, 10, 0})
	copy(f[outer:], inner)

	pk := pool.Get()
	pk.SetBytes(f)
	pk.GSO = pkt.GSO{Type: pkt.GSOTCPv4, NeedsCsum: true, HdrLen: uint16(outer + 54), Size: mss,
		CsumStart: uint16(outer + 34), CsumOffset: 16, OuterL4: uint16(udp), InnerL3: uint16(outer + 14),
		TunnelV6: v6, TunnelCsum: withCsum}
	if p.TxQueue(0).Transmit([]*pkt.Packet{pk}) != 1 {
		t.Fatalf("transmit refused: stats %+v", p.Stats())
	}
	pk.Free()

	// The far end: ten whole VXLAN datagrams, in order.
	got := make([]*pkt.Packet, 64)
	var dgrams [][]byte
	for deadline := time.Now().Add(3 * time.Second); len(dgrams) < segs && time.Now().Before(deadline); {
		n := rx.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
		for _, q := range got[:n] {
			if b := q.Bytes(); len(b) > udp+4 && binary.BigEndian.Uint16(b[12:]) == et && binary.BigEndian.Uint16(b[udp+2:]) == 4789 {
				dgrams = append(dgrams, append([]byte(nil), b...))
			}
			q.Free()
		}
	}
	if len(dgrams) != segs {
		t.Fatalf("far end received %d VXLAN datagrams, want %d", len(dgrams), segs)
	}
	for i, d := range dgrams {
		u := hdr.UDP(d[udp:])
		in := d[outer:]
		iip := hdr.IPv4(in[14:])
		switch {
		case len(d) != outer+54+mss || int(u.Length()) != len(d)-udp:
			t.Fatalf("datagram %d: %d bytes, UDP length %d", i, len(d), u.Length())
		case !v6 && (int(hdr.IPv4(d[14:]).TotalLen()) != len(d)-14 || !hdr.IPv4(d[14:]).ChecksumValid()):
			t.Fatalf("datagram %d: outer IPv4 header % x", i, d[14:34])
		case v6 && int(hdr.IPv6(d[14:]).PayloadLen()) != len(d)-udp:
			t.Fatalf("datagram %d: outer IPv6 payload length %d", i, hdr.IPv6(d[14:]).PayloadLen())
		case withCsum && !hdr.TransportChecksumValid(src, dst, 17, d[udp:]), !withCsum && u.Checksum() != 0:
			t.Fatalf("datagram %d: outer UDP checksum %#04x (asked for: %v)", i, u.Checksum(), withCsum)
		case int(iip.TotalLen()) != 20+20+mss || !iip.ChecksumValid() ||
			!hdr.TransportChecksumValid(iip.Src(), iip.Dst(), 6, in[34:]) ||
			binary.BigEndian.Uint32(in[38:]) != uint32(1+i*mss):
			t.Fatalf("datagram %d: inner segment % x", i, in[:54])
		}
	}
}

// TestArrivalCPUs: with CountCPUs the TAP counts what the kernel sends
// into it on the sending thread's CPU; the filter keeps frames whole and
// comes off a persistent TAP on Close.
func TestArrivalCPUs(t *testing.T) {
	ns := nstest.New(t, "porttapc")
	ns.Exec(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	ns.IP(t, "tuntap", "add", "dev", "fptc", "mode", "tap", "vnet_hdr")
	p := open(t, ns, "fptc", Config{CountCPUs: true})
	counts := p.RxQueues()[0].(port.ArrivalCounter).ArrivalCPUs()
	if counts == nil || counts.NumCPU() < runtime.NumCPU() {
		t.Fatalf("counts %v", counts)
	}
	conn := hostSocket(t, ns, "fptc")
	pool := pkt.NewPool("t", 64)
	got := make([]*pkt.Packet, 16)
	payload := bytes.Repeat([]byte{0xab}, 1000)
	for cpu := 0; cpu < runtime.NumCPU(); cpu++ {
		before := make([]uint64, counts.NumCPU())
		for i := range before {
			before[i] = counts.Count(i)
		}
		sent := make(chan error)
		go func() {
			// Never unlocked: the thread ends with the goroutine.
			runtime.LockOSThread()
			if err := sys.SetThreadCPU(cpu); err != nil {
				sent <- err
				return
			}
			for range 3 {
				if _, err := conn.WriteToUDPAddrPort(payload, netip.MustParseAddrPort("10.8.0.2:9999")); err != nil {
					sent <- err
					return
				}
			}
			sent <- nil
		}()
		if err := <-sent; err != nil {
			t.Fatal(err)
		}
		whole := 0
		for deadline := time.Now().Add(2 * time.Second); whole < 3 && time.Now().Before(deadline); {
			n := p.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
			for _, pk := range got[:n] {
				if b := pk.Bytes(); len(b) == 14+20+8+len(payload) && bytes.Equal(b[42:], payload) {
					whole++
				}
				pk.Free()
			}
		}
		if whole != 3 {
			t.Fatalf("cpu %d: %d of 3 datagrams came out whole", cpu, whole)
		}
		for i := range before {
			want := uint64(0)
			if i == cpu {
				want = 3
			}
			if d := counts.Count(i) - before[i]; d != want {
				t.Fatalf("sent on cpu %d: cpu %d counted %d, want %d", cpu, i, d, want)
			}
		}
	}
	p.Close()
	// The persistent TAP outlives the port; its filter must not: frames
	// through the next port are not counted in the old map.
	var total uint64
	for i := 0; i < counts.NumCPU(); i++ {
		total += counts.Count(i)
	}
	q := open(t, ns, "fptc", Config{})
	for range 3 {
		if _, err := conn.WriteToUDPAddrPort(payload, netip.MustParseAddrPort("10.8.0.2:9999")); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for deadline := time.Now().Add(2 * time.Second); n < 3 && time.Now().Before(deadline); {
		k := q.RxQueues()[0].Receive(pool, got, 100*time.Millisecond)
		for _, pk := range got[:k] {
			pk.Free()
		}
		n += k
	}
	var after uint64
	for i := 0; i < counts.NumCPU(); i++ {
		after += counts.Count(i)
	}
	if n < 3 || after != total {
		t.Fatalf("after Close: %d frames through the next port, old counts %d -> %d", n, total, after)
	}
}

// TestKernelDrops: frames the kernel end of the TAP drops because nobody
// reads them are the port's RxDropped, read in the namespace the kernel
// end was moved to, equal to the device's own
// tx_dropped there, and kept after Close.
func TestKernelDrops(t *testing.T) {
	ns, far := nstest.New(t, "porttapkd"), nstest.New(t, "porttapkdf")
	// No IPv6 chatter from far's kernel between the two reads compared.
	far.Exec(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	p := open(t, ns, "fptapkd", Config{})
	ns.IP(t, "link", "set", "fptapkd", "netns", far.Name)
	far.IP(t, "link", "set", "fptapkd", "up")
	conn := hostSocket(t, far, "fptapkd")
	if s := p.Stats(); s.RxDropped != 0 {
		t.Fatalf("RxDropped %d before any traffic", s.RxDropped)
	}
	payload := make([]byte, 64)
	for range 3000 {
		// A full qdisc answers ENOBUFS; what matters is what reaches the TAP.
		conn.WriteToUDPAddrPort(payload, netip.MustParseAddrPort("10.8.0.2:9999"))
	}
	kernelTxDropped := func() uint64 {
		var l []struct {
			Stats64 struct {
				Tx struct {
					Dropped uint64 `json:"dropped"`
				} `json:"tx"`
			} `json:"stats64"`
		}
		out := far.IP(t, "-j", "-s", "link", "show", "fptapkd")
		if err := json.Unmarshal([]byte(out), &l); err != nil || len(l) != 1 {
			t.Fatalf("ip -j -s link show: %v: %s", err, out)
		}
		return l[0].Stats64.Tx.Dropped
	}
	kernel := kernelTxDropped()
	got := p.Stats().RxDropped
	t.Logf("kernel end dropped %d frames, port reports %d", kernel, got)
	if kernel == 0 || got != kernel {
		t.Fatalf("port RxDropped %d, the kernel end's tx_dropped %d (want equal, not 0)", got, kernel)
	}
	// What the queue held still comes out, and is not a drop.
	pool := pkt.NewPool("t", 64)
	pkts := make([]*pkt.Packet, 64)
	received := 0
	for {
		n := p.RxQueues()[0].Receive(pool, pkts, 50*time.Millisecond)
		if n == 0 {
			break
		}
		received += n
		for _, pk := range pkts[:n] {
			pk.Free()
		}
	}
	if received == 0 || p.Stats().RxDropped != got {
		t.Fatalf("after draining: %d frames received, RxDropped %d (was %d)", received, p.Stats().RxDropped, got)
	}
	p.Close()
	if s := p.Stats(); s.RxDropped != got {
		t.Fatalf("RxDropped %d after Close, %d before", s.RxDropped, got)
	}
}
