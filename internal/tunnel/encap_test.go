package tunnel

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"flowpath/internal/errs"
	"flowpath/internal/pkt"
)

func mustBuild(t *testing.T, c EncapConfig) *Encap {
	t.Helper()
	e, err := Build(&c)
	if err != nil {
		t.Fatalf("Build(%+v): %v", c, err)
	}
	return e
}

func wantErr(t *testing.T, c EncapConfig, code string) error {
	t.Helper()
	_, err := Build(&c)
	if err == nil || errs.Code(err) != code {
		t.Fatalf("Build(%+v) = %v, want %s", c, err, code)
	}
	if msg := err.Error(); !strings.HasPrefix(msg, "encap") || strings.ToLower(msg[:1]) != msg[:1] {
		t.Errorf("error %q has no lowercase encap context", msg)
	}
	return err
}

// L1: `encap ip id 10 dst 50.1.1.2` is stored as ip_tun_build_state fills
// it and dumps with zero values present.
func TestBuildIPL1(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "ip", ID: 10, Dst: "50.1.1.2"})
	var want pkt.TunnelInfo
	want.Key.ID = 10
	want.Key.Dst = [16]byte{50, 1, 1, 2}
	want.Mode = pkt.TunnelModeTX
	if e.Type != EncapIP || !e.Info.Equal(&want) || e.Info.Key != want.Key {
		t.Fatalf("info %+v, want %+v", e.Info.Key, want.Key)
	}
	if e.Headroom() != 0 || e.MTUHeadroom(1500) != 0 {
		t.Fatal("ip encap adds no headroom")
	}
	c := e.Config()
	want2 := EncapConfig{Type: "ip", ID: 10, Dst: "50.1.1.2", Src: "0.0.0.0"}
	if !configEqual(c, want2) {
		t.Fatalf("Config() = %+v, want %+v", c, want2)
	}
	if s := e.Type.String(); s != "ip" {
		t.Fatalf("type prints %q", s)
	}
}

func configEqual(a, b EncapConfig) bool {
	return a.Type == b.Type && a.ID == b.ID && a.Dst == b.Dst && a.Src == b.Src && a.TTL == b.TTL &&
		a.TOS == b.TOS && slices.Equal(a.Flags, b.Flags) && a.GeneveOpts == b.GeneveOpts &&
		a.VXLANOpts == b.VXLANOpts && a.SetVXLANOpts == b.SetVXLANOpts && slices.Equal(a.Labels, b.Labels)
}

// L3 and the flag keywords: KEY 0x04, CSUM 0x01, SEQ 0x08, dumped in
// iproute2's order whatever the order given.
func TestBuildIPFlags(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "ip", ID: 1, Dst: "10.0.0.1", Src: "10.0.0.2", TTL: 9, TOS: 0x28,
		Flags: []string{"seq", "csum", "key"}})
	if f := e.Info.Key.Flags; f != 0x0d {
		t.Fatalf("flags %#x", f)
	}
	if e.Info.Key.TTL != 9 || e.Info.Key.TOS != 0x28 || e.Info.Key.Src != [16]byte{10, 0, 0, 2} {
		t.Fatalf("key %+v", e.Info.Key)
	}
	c := e.Config()
	if !slices.Equal(c.Flags, []string{"key", "csum", "seq"}) || c.TTL != 9 || c.TOS != 0x28 {
		t.Fatalf("config %+v", c)
	}
	csum := mustBuild(t, EncapConfig{Type: "ip", ID: 10, Dst: "50.1.1.2", Flags: []string{"csum"}})
	if csum.Info.Key.Flags != pkt.TunnelCsum || !slices.Equal(csum.Config().Flags, []string{"csum"}) {
		t.Fatal("L3: csum flag")
	}
	wantErr(t, EncapConfig{Type: "ip", Flags: []string{"df"}}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", Flags: []string{"key", "key"}}, "EINVAL")
}

func TestBuildIP6(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "ip6", ID: 7, Dst: "2001:db8::9", TTL: 33, TOS: 0xb8})
	if e.Type != EncapIP6 || e.Info.Mode != pkt.TunnelModeTX|pkt.TunnelModeIPv6 {
		t.Fatalf("type %v mode %#x", e.Type, e.Info.Mode)
	}
	if e.Info.Key.Dst != v6Bytes("2001:db8::9") || e.Info.Key.TTL != 33 || e.Info.Key.TOS != 0xb8 {
		t.Fatalf("key %+v", e.Info.Key)
	}
	c := e.Config()
	if c.Type != "ip6" || c.Src != "::" || c.Dst != "2001:db8::9" || c.TTL != 33 || c.TOS != 0xb8 {
		t.Fatalf("config %+v", c)
	}
	// Families must match the type, as iproute2's parser insists.
	wantErr(t, EncapConfig{Type: "ip", Dst: "2001:db8::1"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", Src: "::ffff:10.0.0.1"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip6", Dst: "10.0.0.1"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip6", Dst: "fe80::1%eth0"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", Dst: "nonsense"}, "EINVAL")
	if mustBuild(t, EncapConfig{Type: "ip6", Dst: "::ffff:10.0.0.1"}).Info.Key.Dst[10] != 0xff {
		t.Fatal("an IPv4-mapped address is an IPv6 address")
	}
}

func v6Bytes(s string) [16]byte {
	var c EncapConfig
	c.Type, c.Dst = "ip6", s
	e, _ := Build(&c)
	return e.Info.Key.Dst
}

// L5, L6: type errors, single path and multipath.
func TestBuildTypes(t *testing.T) {
	for _, typ := range []string{"", "0", "99", "11", "65536", "vxlan", "none", "-1"} {
		wantErr(t, EncapConfig{Type: typ}, "EINVAL")
		if _, err := BuildMultipath(&EncapConfig{Type: typ}); errs.Code(err) != "EOPNOTSUPP" {
			t.Errorf("multipath type %q: %v, want EOPNOTSUPP", typ, err)
		}
	}
	for _, typ := range []string{"ila", "seg6", "bpf", "seg6local", "rpl", "ioam6", "xfrm", "3", "10"} {
		wantErr(t, EncapConfig{Type: typ}, "EOPNOTSUPP")
	}
	for typ, want := range map[string]EncapType{"mpls": EncapMPLS, "1": EncapMPLS, "ip": EncapIP, "2": EncapIP, "ip6": EncapIP6, "4": EncapIP6} {
		if got, ok := ParseEncapType(typ); !ok || got != want {
			t.Errorf("ParseEncapType(%q) = %v %v", typ, got, ok)
		}
	}
	names := map[EncapType]string{EncapMPLS: "mpls", EncapIP: "ip", EncapILA: "ila", EncapIP6: "ip6",
		EncapSEG6: "seg6", EncapBPF: "bpf", EncapSEG6Local: "seg6local", EncapXFRM: "xfrm", 11: "unknown", 999: "unknown"}
	for typ, want := range names {
		if typ.String() != want {
			t.Errorf("%d prints %q, want %q", typ, typ.String(), want)
		}
	}
	if _, err := Build(nil); errs.Code(err) != "EINVAL" {
		t.Error("nil config")
	}
}

// L6: a set of types, as flowpathd --lwt-encap reads it; a type outside
// the set is EOPNOTSUPP, single path or multipath, and range errors keep
// their codes.
func TestEncapTypes(t *testing.T) {
	for list, want := range map[string]EncapTypes{"": 0, "ip": 1 << EncapIP, "ip,ip6": 1<<EncapIP | 1<<EncapIP6,
		"mpls,ip,ip6": AllEncapTypes, "mpls,mpls": 1 << EncapMPLS} {
		got, err := ParseEncapTypes(list)
		if err != nil || got != want {
			t.Errorf("ParseEncapTypes(%q) = %v, %v; want %v", list, got, err, want)
		}
	}
	for _, bad := range []string{"seg6", "bogus", "2", "ip,", ",ip", "ip ip6", "none"} {
		if _, err := ParseEncapTypes(bad); errs.Code(err) != "EINVAL" {
			t.Errorf("ParseEncapTypes(%q): %v, want EINVAL", bad, err)
		}
	}
	if AllEncapTypes.String() != "mpls,ip,ip6" || EncapTypes(0).String() != "" {
		t.Errorf("String: %q %q", AllEncapTypes.String(), EncapTypes(0).String())
	}
	ipOnly := EncapTypes(1<<EncapIP | 1<<EncapIP6)
	mpls := EncapConfig{Type: "mpls", Labels: []uint32{100}}
	for _, multipath := range []bool{false, true} {
		if _, err := ipOnly.Build(&mpls, multipath); errs.Code(err) != "EOPNOTSUPP" {
			t.Errorf("mpls without the type (multipath %v): %v", multipath, err)
		}
		if _, err := ipOnly.Build(&EncapConfig{Type: "ip", ID: 1, Dst: "10.0.0.1"}, multipath); err != nil {
			t.Errorf("ip with the type (multipath %v): %v", multipath, err)
		}
	}
	if _, err := ipOnly.Build(&EncapConfig{Type: "99"}, false); errs.Code(err) != "EINVAL" {
		t.Errorf("type 99: %v", err)
	}
	if _, err := AllEncapTypes.Build(&mpls, false); err != nil {
		t.Error(err)
	}
}

// L7, L8, L9 and L11: MPLS label rules (MAX_NEW_LABELS 30).
func TestBuildMPLS(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "mpls", Labels: []uint32{100, 200}, TTL: 10})
	if e.Type != EncapMPLS || !slices.Equal(e.Labels, []uint32{100, 200}) || e.TTL != 10 {
		t.Fatalf("%+v", e)
	}
	if e.Headroom() != 8 || e.MTUHeadroom(1500) != 8 || e.MTUHeadroom(8) != 0 || e.MTUHeadroom(9) != 8 {
		t.Fatal("headroom: 4 per label, only below the MTU")
	}
	if c := e.Config(); c.Type != "mpls" || !slices.Equal(c.Labels, []uint32{100, 200}) || c.TTL != 10 || c.Dst != "" {
		t.Fatalf("config %+v", c)
	}
	thirty := make([]uint32, 30)
	for i := range thirty {
		thirty[i] = uint32(16 + i)
	}
	if mustBuild(t, EncapConfig{Type: "mpls", Labels: thirty}).Headroom() != 120 {
		t.Fatal("30 labels")
	}
	wantErr(t, EncapConfig{Type: "mpls", Labels: append(thirty, 99)}, "EINVAL")
	wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{3}}, "EINVAL")
	wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{100, 3}}, "EINVAL")
	wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{1 << 20}}, "EINVAL")
	wantErr(t, EncapConfig{Type: "mpls"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{100}, Dst: "10.0.0.1"}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", Labels: []uint32{100}}, "EINVAL")
	// The kernel refuses only the implicit null among reserved labels.
	for _, l := range []uint32{0, 1, 2, 7, 13, 15, MaxLabel} {
		mustBuild(t, EncapConfig{Type: "mpls", Labels: []uint32{l}})
	}
	err := wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{3}}, "EINVAL")
	if !strings.Contains(err.Error(), "implicit null") || !errors.Is(err, errs.ErrInvalid) {
		t.Errorf("message %q", err)
	}
	// L9: raw entries, nla_get_labels' rules.
	if e := mustBuild(t, EncapConfig{Type: "mpls", LSEs: []uint32{100 << 12, 200<<12 | 0x100}}); !slices.Equal(e.Labels, []uint32{100, 200}) {
		t.Fatalf("raw entries: %+v", e.Labels)
	}
	for _, bad := range [][]uint32{{100<<12 | 0x101}, {100<<12 | 1<<9 | 0x100}, {100<<12 | 0x100, 200<<12 | 0x100},
		{100 << 12}, {3<<12 | 0x100}, append(slices.Repeat([]uint32{16 << 12}, MaxLabels), 17<<12|0x100)} {
		wantErr(t, EncapConfig{Type: "mpls", LSEs: bad}, "EINVAL")
	}
	wantErr(t, EncapConfig{Type: "mpls", Labels: []uint32{100}, LSEs: []uint32{100<<12 | 0x100}}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", LSEs: []uint32{100<<12 | 0x100}}, "EINVAL")
	if err := wantErr(t, EncapConfig{Type: "mpls", LSEs: []uint32{100<<12 | 0x100, 200<<12 | 0x100}}, "EINVAL"); !strings.Contains(err.Error(), "BOS bit can only be set in the last") {
		t.Errorf("message %q", err)
	}
	// The state owns its labels.
	in := []uint32{100}
	e2 := mustBuild(t, EncapConfig{Type: "mpls", Labels: in})
	in[0] = 5
	e2.Config().Labels[0] = 6
	if e2.Labels[0] != 100 {
		t.Fatal("encap state shares its label slice")
	}
}

// §1.6.1: Geneve options, iproute2 syntax and the kernel's length rules.
func TestBuildGeneveOpts(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "ip", ID: 1, Dst: "10.1.0.2", GeneveOpts: "0x102:0x80:0011223344556677,1:1:12121212"})
	want := []byte{0x01, 0x02, 0x80, 0x02, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
		0x00, 0x01, 0x01, 0x01, 0x12, 0x12, 0x12, 0x12}
	mustEqualBytes(t, "options", e.Info.Options(), want)
	if e.Info.Key.Flags != pkt.TunnelGeneveOpt {
		t.Fatalf("flags %#x", e.Info.Key.Flags)
	}
	if c := e.Config(); c.GeneveOpts != "258:128:0011223344556677,1:1:12121212" {
		t.Fatalf("dump %q", c.GeneveOpts)
	}
	// Base detection as iproute2's get_u16(..., 0): decimal, 0x, octal.
	if o := mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "010:255:ABCDEF01"}).Info.Options(); o[1] != 8 || o[2] != 255 || o[4] != 0xab {
		t.Fatalf("octal class / upper-case data: % x", o)
	}
	data := func(n int) string { return strings.Repeat("ab", n) }
	mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(124)})
	wantErr(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(128)}, "ERANGE")
	wantErr(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(126)}, "EINVAL")
	wantErr(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(6)}, "EINVAL")
	// 4+124 + 4+120 = 252 fits 255; 4+124 + 4+124 = 256 does not.
	mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(124) + ",2:2:" + data(120)})
	wantErr(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:" + data(124) + ",2:2:" + data(124)}, "EINVAL")
	for _, bad := range []string{"1:1", "1:1:", ":1:12345678", "1::12345678", "1:1:12345678:9", "65536:1:12345678",
		"1:256:12345678", "1:1:1234567", "1:1:1234567z", "x:1:12345678", "1:1:12345678,", ",1:1:12345678",
		"1_0:1:12345678", "0b1:1:12345678", "0o7:1:12345678", "08:1:12345678", "0x:1:12345678", "-1:1:12345678", " 1:1:12345678"} {
		wantErr(t, EncapConfig{Type: "ip", GeneveOpts: bad}, "EINVAL")
	}
	wantErr(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:12345678", SetVXLANOpts: true}, "EINVAL")
}

// V2's route form: vxlan_opts 0x481234, masked with VXLAN_GBP_MASK.
func TestBuildVXLANOpts(t *testing.T) {
	e := mustBuild(t, EncapConfig{Type: "ip", ID: 10, Dst: "10.1.0.2", VXLANOpts: 0x481234, SetVXLANOpts: true})
	if e.Info.Key.Flags != pkt.TunnelVXLANOpt || e.Info.OptLen != 4 {
		t.Fatalf("flags %#x optlen %d", e.Info.Key.Flags, e.Info.OptLen)
	}
	if g, ok := GBP(&e.Info); !ok || g != 0x481234 {
		t.Fatalf("gbp %#x %v", g, ok)
	}
	if c := e.Config(); c.VXLANOpts != 0x481234 || !c.SetVXLANOpts {
		t.Fatalf("config %+v", c)
	}
	if g, _ := GBP(&mustBuild(t, EncapConfig{Type: "ip", VXLANOpts: 0xffffffff}).Info); g != 0x48ffff {
		t.Fatalf("mask: %#x", g)
	}
	// vxlan_opts 0 is still options (4 zero bytes).
	if z := mustBuild(t, EncapConfig{Type: "ip", SetVXLANOpts: true}); z.Info.OptLen != 4 || z.Info.Key.Flags != pkt.TunnelVXLANOpt {
		t.Fatal("vxlan_opts 0")
	}
}

func TestEncapEqual(t *testing.T) {
	var nilE *Encap
	a := mustBuild(t, EncapConfig{Type: "ip", ID: 10, Dst: "50.1.1.2"})
	b := mustBuild(t, EncapConfig{Type: "ip", ID: 10, Dst: "50.1.1.2"})
	if !nilE.Equal(nil) || nilE.Equal(a) || a.Equal(nil) || !a.Equal(b) {
		t.Fatal("nil and same-config comparisons")
	}
	differ := []EncapConfig{
		{Type: "ip", ID: 11, Dst: "50.1.1.2"},
		{Type: "ip", ID: 10, Dst: "50.1.1.3"},
		{Type: "ip", ID: 10, Dst: "50.1.1.2", TTL: 1},
		{Type: "ip", ID: 10, Dst: "50.1.1.2", Flags: []string{"csum"}},
		{Type: "ip", ID: 10, Dst: "50.1.1.2", GeneveOpts: "1:1:00000000"},
		{Type: "ip6", ID: 10},
		{Type: "mpls", Labels: []uint32{10}},
	}
	for _, c := range differ {
		if a.Equal(mustBuild(t, c)) {
			t.Errorf("%+v compares equal to %+v", c, a.Config())
		}
	}
	g1 := mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:00000000"})
	g2 := mustBuild(t, EncapConfig{Type: "ip", GeneveOpts: "1:1:00000001"})
	if g1.Equal(g2) {
		t.Error("option bytes take part")
	}
	m1 := mustBuild(t, EncapConfig{Type: "mpls", Labels: []uint32{100, 200}})
	for _, c := range []EncapConfig{{Type: "mpls", Labels: []uint32{100}}, {Type: "mpls", Labels: []uint32{100, 201}},
		{Type: "mpls", Labels: []uint32{100, 200}, TTL: 5}} {
		if m1.Equal(mustBuild(t, c)) {
			t.Errorf("%+v equal to mpls 100/200", c)
		}
	}
	if !m1.Equal(mustBuild(t, EncapConfig{Type: "mpls", Labels: []uint32{100, 200}})) {
		t.Error("same mpls")
	}
}

// Config round-trips through Build for every kind of state.
func TestConfigRoundTrip(t *testing.T) {
	for _, c := range []EncapConfig{
		{Type: "ip", ID: 1<<64 - 1, Dst: "50.1.1.2", Src: "1.2.3.4", TTL: 255, TOS: 255, Flags: []string{"key", "seq"}},
		{Type: "ip6", ID: 5, Dst: "2001:db8::2", GeneveOpts: "65535:255:00000000,0:0:01020304"},
		{Type: "ip6", VXLANOpts: 0x400001},
		{Type: "mpls", Labels: []uint32{16, MaxLabel}, TTL: 1},
	} {
		e := mustBuild(t, c)
		back := e.Config()
		e2 := mustBuild(t, back)
		if !e.Equal(e2) {
			t.Errorf("%+v -> %+v does not round-trip", c, back)
		}
	}
	if c := (*Encap)(nil).Config(); c.Type != "" {
		t.Error("nil encap config")
	}
}

func TestCheckLabels(t *testing.T) {
	for _, ok := range [][]uint32{nil, {0}, {16, 17}, make([]uint32, MaxLabels)} {
		if err := CheckLabels(ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]uint32{{3}, {1 << 20}, make([]uint32, MaxLabels+1)} {
		if err := CheckLabels(bad); errs.Code(err) != "EINVAL" {
			t.Errorf("%v: %v", bad, err)
		}
	}
	if CheckRouteLabel(16, 1000) != nil || CheckRouteLabel(999, 1000) != nil {
		t.Error("routable labels refused")
	}
	for _, l := range []uint32{0, 2, 3, 15, 1000, 1 << 20} {
		if err := CheckRouteLabel(l, 1000); errs.Code(err) != "EINVAL" {
			t.Errorf("route label %d: %v", l, err)
		}
	}
}
