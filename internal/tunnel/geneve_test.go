package tunnel

import (
	"bytes"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

func TestGeneveHeader(t *testing.T) {
	opts := []byte{0x01, 0x02, 0x03, 0x01, 1, 2, 3, 4, 0xff, 0xff, 0x04, 0x00}
	b := make([]byte, 64)
	n := PutGeneve(b, 0x123456, hdr.EtherTypeTEB, opts)
	if n != 8+len(opts) {
		t.Fatalf("length %d", n)
	}
	mustEqualBytes(t, "header", b[:8], []byte{0x03, 0x00, 0x65, 0x58, 0x12, 0x34, 0x56, 0x00})
	vni, o, proto, hl, ok := ParseGeneve(b[:n+5])
	if !ok || vni != 0x123456 || proto != hdr.EtherTypeTEB || hl != n || !bytes.Equal(o, opts) {
		t.Fatalf("parse: %d % x %#x %d %v", vni, o, proto, hl, ok)
	}
	if f := GeneveRXFlags(b); f != pkt.TunnelFlagKey {
		t.Fatalf("flags %#x", f)
	}
	// An option type with the critical bit (0x80) sets C.
	crit := []byte{0x01, 0x02, 0x83, 0x00}
	n = PutGeneve(b, 1, hdr.EtherTypeTEB, crit)
	if b[1] != 0x40 || GeneveRXFlags(b) != pkt.TunnelFlagKey|pkt.TunnelCritOpt {
		t.Fatalf("critical: % x", b[:n])
	}
	SetGeneveFlags(b, true, false)
	if b[1] != 0x80 || GeneveRXFlags(b) != pkt.TunnelFlagKey|pkt.TunnelOAM {
		t.Fatalf("O only: % x", b[:n])
	}
	SetGeneveFlags(b[:7], false, true) // too short: no effect, no panic
	if b[1] != 0x80 {
		t.Fatal("short SetGeneveFlags wrote")
	}
}

func TestGeneveRefuses(t *testing.T) {
	b := make([]byte, 300)
	if PutGeneve(b, 1, 0, make([]byte, 3)) != 0 || PutGeneve(b, 1, 0, make([]byte, 256)) != 0 ||
		PutGeneve(b[:11], 1, 0, make([]byte, 4)) != 0 {
		t.Fatal("bad options or short buffer must be refused")
	}
	if PutGeneve(b, 1, 0, make([]byte, GeneveMaxOpts)) != 8+GeneveMaxOpts || b[0] != 63 {
		t.Fatal("252 option bytes fit")
	}
	for name, h := range map[string][]byte{
		"short":          {0, 0, 0x65, 0x58, 0, 0, 1},
		"version 1":      {0x40, 0, 0x65, 0x58, 0, 0, 1, 0},
		"version 3":      {0xc0, 0, 0x65, 0x58, 0, 0, 1, 0},
		"options beyond": {0x02, 0, 0x65, 0x58, 0, 0, 1, 0, 1, 2, 3, 4},
	} {
		if _, _, _, _, ok := ParseGeneve(h); ok {
			t.Errorf("%s accepted", name)
		}
	}
	// The kernel does not walk option TLVs on receive: a bad TLV parses.
	if _, _, _, _, ok := ParseGeneve([]byte{0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0, 0, 0x1f}); !ok {
		t.Error("a header with a malformed TLV is still a header")
	}
	if GeneveRXFlags([]byte{0}) != 0 {
		t.Error("short flags")
	}
}

func TestGeneveOptsValid(t *testing.T) {
	good := [][]byte{nil, {0, 1, 2, 0}, {0, 1, 2, 1, 9, 9, 9, 9, 0, 1, 2, 0}, make([]byte, 252)}
	bad := [][]byte{{0, 1, 2}, {0, 1, 2, 1}, {0, 1, 2, 0, 5}, make([]byte, 256)}
	for _, o := range good {
		if !GeneveOptsValid(o) {
			t.Errorf("% x refused", o)
		}
	}
	for _, o := range bad {
		if GeneveOptsValid(o) {
			t.Errorf("% x accepted", o)
		}
	}
	// What Build makes is always valid on the wire.
	e := mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + string(bytes.Repeat([]byte("00"), 124)) + ",2:2:" + string(bytes.Repeat([]byte("00"), 120))})
	if !GeneveOptsValid(e.Info.Options()) {
		t.Error("Build's options are not valid Geneve options")
	}
}
