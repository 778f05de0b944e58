package scenario

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"flowpath/api"
	"flowpath/internal/hdr"
)

func writeCapture(t *testing.T, path string, frames [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(1700000000, 0)
	for i, b := range frames {
		ci := gopacket.CaptureInfo{Timestamp: ts.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(b), Length: len(b)}
		if err := w.WritePacket(ci, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readCapture(t *testing.T, path string) []gopacket.Packet {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	if r.LinkType() != layers.LinkTypeEthernet {
		t.Fatalf("link type %v", r.LinkType())
	}
	var out []gopacket.Packet
	for {
		data, ci, err := r.ReadPacketData()
		if err != nil {
			break
		}
		if ci.CaptureLength != len(data) || ci.Length != len(data) {
			t.Fatalf("record lengths %d/%d for %d bytes", ci.CaptureLength, ci.Length, len(data))
		}
		out = append(out, gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default))
	}
	return out
}

// TestPcapPorts runs the router between capture files: r1 reads echo
// requests and UDP packets from h1's capture and writes its answers to
// another; r2 writes what it forwards. The captures are written and read
// with gopacket's pcapgo.
func TestPcapPorts(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, false)
	r1rx, r1tx, r2tx := filepath.Join(dir, "r1-rx.pcap"), filepath.Join(dir, "r1-tx.pcap"), filepath.Join(dir, "r2-tx.pcap")
	h.pcapFiles["r1"] = [2]string{r1rx, r1tx}
	h.pcapFiles["r2"] = [2]string{"", r2tx}
	r1mac, r2mac := hdr.MAC{0x02, 0xfe, 0, 0, 0, 0x11}, hdr.MAC{0x02, 0xfe, 0, 0, 0, 0x12}

	// h1 and h2 are played offline: frames from h1 go into r1's capture.
	h1 := &host{h: h, link: "r1", mac: hdr.MAC{2, 0, 0, 0, 1, 1}, rmac: r1mac,
		ip4: netip.MustParseAddr("10.1.0.1"), ip6: netip.MustParseAddr("fd00:1::1")}
	h2 := &host{h: h, link: "r2", mac: hdr.MAC{2, 0, 0, 0, 2, 1}, rmac: r2mac,
		ip4: netip.MustParseAddr("10.2.0.1"), ip6: netip.MustParseAddr("fd00:2::1")}
	var in, udp4, udp6 [][]byte
	for i := 0; i < 3; i++ {
		in = append(in, serialize(t, h1.eth(layers.EthernetTypeIPv4), h1.ip4hdr("10.1.0.254", layers.IPProtocolICMPv4, 64),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(layers.ICMPv4TypeEchoRequest, 0), Id: 42, Seq: uint16(i + 1)},
			gopacket.Payload([]byte("offline ping"))))
	}
	for i := 0; i < 5; i++ {
		f := h1.udp4("10.2.0.1", uint16(5000+i), 53, 64, true, []byte(fmt.Sprintf("udp packet %d", i)))
		udp4 = append(udp4, f)
		in = append(in, f)
	}
	ip6 := h1.ip6hdr("fd00:1::254", layers.IPProtocolICMPv6, 64)
	ic6 := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(layers.ICMPv6TypeEchoRequest, 0)}
	_ = ic6.SetNetworkLayerForChecksum(ip6)
	in = append(in, serialize(t, h1.eth(layers.EthernetTypeIPv6), ip6, ic6, &layers.ICMPv6Echo{Identifier: 43, SeqNumber: 1},
		gopacket.Payload([]byte("offline ping6"))))
	for i := 0; i < 2; i++ {
		f := h1.udp6("fd00:2::1", uint16(6000+i), 53, 64, []byte(fmt.Sprintf("udp6 packet %d", i)))
		udp6 = append(udp6, f)
		in = append(in, f)
	}
	writeCapture(t, r1rx, in)

	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "r1", Kind: "pcap", MAC: r1mac.String()}})
	h.do(api.Request{Op: api.OpLinkAdd, Link: &api.Link{Name: "r2", Kind: "pcap", MAC: r2mac.String()}})
	up := true
	for _, l := range []struct{ name, a4, a6 string }{{"r1", "10.1.0.254/24", "fd00:1::254/64"}, {"r2", "10.2.0.254/24", "fd00:2::254/64"}} {
		h.do(api.Request{Op: api.OpLinkSet, Link: &api.Link{Name: l.name, Up: &up}})
		h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: l.name, Prefix: l.a4}})
		h.do(api.Request{Op: api.OpAddrAdd, Addr: &api.Addr{Dev: l.name, Prefix: l.a6}})
	}
	// Nobody answers ARP or ND in a file: the neighbours are static.
	h1.permanent()
	h2.permanent()
	h.pcapPorts["r1"].open()

	deadline := time.Now().Add(3 * time.Second)
	for {
		s1, s2 := h.linkStats("r1"), h.linkStats("r2")
		if s1.RxPackets == uint64(len(in)) && s1.TxPackets == 4 && s2.TxPackets == uint64(len(udp4)+len(udp6)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("r1 %+v, r2 %+v", s1, s2)
		}
		time.Sleep(time.Millisecond)
	}
	if !h.pcapPorts["r1"].pcap.Done() {
		t.Fatal("r1's capture not read to its end")
	}
	// Deleting the links closes the ports, which writes the captures out.
	h.do(api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "r1"}})
	h.do(api.Request{Op: api.OpLinkDel, Link: &api.Link{Name: "r2"}})

	out2 := readCapture(t, r2tx)
	if len(out2) != len(udp4)+len(udp6) {
		t.Fatalf("r2 capture has %d frames, want %d", len(out2), len(udp4)+len(udp6))
	}
	for i, f := range udp4 {
		checkForwarded4(t, out2[i], f, h1, h2)
	}
	for i, f := range udp6 {
		checkForwarded6(t, out2[len(udp4)+i], f, h2)
	}

	out1 := readCapture(t, r1tx)
	if len(out1) != 4 {
		t.Fatalf("r1 capture has %d frames, want 4 echo replies", len(out1))
	}
	for i, p := range out1[:3] {
		checkSums(t, p.Data())
		ip := ip4Of(t, p)
		ic, ok := p.Layer(layers.LayerTypeICMPv4).(*layers.ICMPv4)
		if !ok || ic.TypeCode.Type() != layers.ICMPv4TypeEchoReply || ic.Id != 42 || ic.Seq != uint16(i+1) ||
			string(ic.Payload) != "offline ping" || addrOf(ip.SrcIP).String() != "10.1.0.254" || addrOf(ip.DstIP) != h1.ip4 {
			t.Fatalf("reply %d: %v", i, p)
		}
		if eth := ethOf(p); [6]byte(eth.DstMAC) != h1.mac || [6]byte(eth.SrcMAC) != r1mac {
			t.Fatalf("reply %d L2 %v -> %v", i, eth.SrcMAC, eth.DstMAC)
		}
	}
	p := out1[3]
	checkSums(t, p.Data())
	if ic, ok := p.Layer(layers.LayerTypeICMPv6).(*layers.ICMPv6); !ok || ic.TypeCode.Type() != layers.ICMPv6TypeEchoReply ||
		addrOf(ip6Of(t, p).DstIP) != h1.ip6 {
		t.Fatalf("v6 reply: %v", p)
	}
}
