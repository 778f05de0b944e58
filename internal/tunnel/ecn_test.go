package tunnel

import (
	"testing"

	"flowpath/internal/hdr"
)

// V18, encapsulation: the outer ECN is the inner one, CE becoming ECT(0);
// the DSCP is the configured one.
func TestECNEncap(t *testing.T) {
	for inner, want := range map[uint8]uint8{ECNNotECT: ECNNotECT, ECNECT1: ECNECT1, ECNECT0: ECNECT0, ECNCE: ECNECT0} {
		f4 := ipv4UDPFrame(v4A, v4B, 0xa0|inner, 64, 1, 2, nil)
		if got := ECNEncap(0x28|ECNCE, f4[14:], hdr.EtherTypeIPv4); got != 0x28|want {
			t.Errorf("IPv4 inner %d: outer %#x, want %#x", inner, got, 0x28|want)
		}
		f6 := ipv6UDPFrame(v6A, v6B, 0xa0|inner, 64, 1, 2, nil)
		if got := ECNEncap(0x28, f6[14:], hdr.EtherTypeIPv6); got != 0x28|want {
			t.Errorf("IPv6 inner %d: outer %#x", inner, got)
		}
	}
	if got := ECNEncap(0x2b, arpFrame(macA)[14:], hdr.EtherTypeARP); got != 0x28 {
		t.Errorf("non-IP inner: %#x", got)
	}
	if got := ECNEncap(0x2b, nil, hdr.EtherTypeIPv4); got != 0x28 {
		t.Errorf("empty inner: %#x", got)
	}
}

// refDecap is RFC 6040's decapsulation table as the kernel implements it:
// the new inner ECN and whether to drop.
func refDecap(outer, inner uint8) (uint8, bool) {
	switch {
	case inner == ECNNotECT:
		return inner, outer == ECNCE
	case outer == ECNCE:
		return ECNCE, false
	case outer == ECNECT1 && inner == ECNECT0:
		return ECNECT1, false
	}
	return inner, false
}

// V18, decapsulation: every outer/inner pair against the table, IPv4
// checksum kept valid, non-IP untouched.
func TestECNDecap(t *testing.T) {
	for outer := uint8(0); outer < 4; outer++ {
		for inner := uint8(0); inner < 4; inner++ {
			wantECN, wantDrop := refDecap(outer, inner)
			f4 := ipv4UDPFrame(v4A, v4B, 0xb8|inner, 64, 1, 2, nil)
			if drop := ECNDecap(0x04|outer, f4[14:], hdr.EtherTypeIPv4); drop != wantDrop {
				t.Errorf("v4 outer %d inner %d: drop %v", outer, inner, drop)
			}
			ip := hdr.IPv4(f4[14:])
			if ip.TOS() != 0xb8|wantECN || !ip.ChecksumValid() {
				t.Errorf("v4 outer %d inner %d: tos %#x checksum ok %v", outer, inner, ip.TOS(), ip.ChecksumValid())
			}
			f6 := ipv6UDPFrame(v6A, v6B, 0xb8|inner, 64, 1, 2, nil)
			if drop := ECNDecap(outer, f6[14:], hdr.EtherTypeIPv6); drop != wantDrop {
				t.Errorf("v6 outer %d inner %d: drop %v", outer, inner, drop)
			}
			if tc := hdr.IPv6(f6[14:]).TrafficClass(); tc != 0xb8|wantECN || hdr.IPv6(f6[14:]).FlowLabel() != 0 {
				t.Errorf("v6 outer %d inner %d: tc %#x", outer, inner, tc)
			}
		}
	}
	a := arpFrame(macA)
	before := string(a)
	if ECNDecap(ECNCE, a[14:], hdr.EtherTypeARP) || string(a) != before {
		t.Error("non-IP inner must pass untouched")
	}
	if ECNDecap(ECNCE, []byte{0x45, 0}, hdr.EtherTypeIPv4) || ECNDecap(ECNCE, make([]byte, 39), hdr.EtherTypeIPv6) {
		t.Error("short headers are the caller's to judge, not dropped here")
	}
}
