package dataplane

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"flowpath/internal/hdr"
)

// A TCP super-frame tagged VID 5 routed out of a VLAN device on a port
// without GSO: segmented first, then every segment tagged VID 6, with
// valid IPv4 and TCP checksums (the offsets followed the tag's removal).
func TestVLANSuperFrameSegmentedAndTagged(t *testing.T) {
	r := newRig(t, rigOpts{vlans: true})
	src, dst := netip.MustParseAddr("10.55.0.1"), netip.MustParseAddr("10.66.0.1")
	b, g := tcpSuper(src, dst, 1000, 4000)
	g.CsumStart += hdr.VLANLen
	g.HdrLen += hdr.VLANLen
	r.batch[0] = r.packet(t, withTag(b, 5), g)
	r.w.processBatch(r.batch[:1])
	r.w.flush()
	out := r.take(1)
	if len(out) != 4 {
		t.Fatalf("%d frames on r2, want 4 segments", len(out))
	}
	payload := 0
	for i, f := range out {
		if binary.BigEndian.Uint16(f[12:]) != hdr.EtherTypeVLAN || binary.BigEndian.Uint16(f[14:])&0xfff != 6 ||
			binary.BigEndian.Uint16(f[16:]) != hdr.EtherTypeIPv4 {
			t.Fatalf("segment %d: header % x", i, f[:18])
		}
		ip := hdr.IPv4(f[18:])
		if !ip.IsValid() || hdr.Checksum(ip[:ip.HeaderLen()], 0) != 0 || ip.Dst() != dst || ip[8] != 63 {
			t.Fatalf("segment %d: IPv4 header % x", i, f[18:38])
		}
		l4 := f[18+ip.HeaderLen() : 18+int(ip.TotalLen())]
		if !hdr.TransportChecksumValid(src, dst, hdr.IPProtoTCP, l4) {
			t.Fatalf("segment %d: TCP checksum", i)
		}
		payload += len(l4) - 20
	}
	if payload != 4000 {
		t.Fatalf("segments carry %d payload bytes, want 4000", payload)
	}
}
