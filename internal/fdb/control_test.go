package fdb

import (
	"slices"
	"testing"

	"flowpath/internal/errs"
)

// V9: a classic device with a default remote has the all-zero entry; an
// unknown destination misses and the caller's all-zero lookup finds .2.
func TestV9DefaultEntry(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	wantErr(t, "default entry", tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd), nil)
	if _, ok := tb.Lookup(macM, 0); ok {
		t.Fatal("unknown MAC found")
	}
	rs, ok := tb.Lookup(zeroMAC, 0)
	if !ok || !slices.Equal(ips(rs), []string{"192.0.2.2"}) {
		t.Fatalf("all-zero lookup: %v %v", ips(rs), ok)
	}
	e, _ := tb.Get(zeroMAC, 0)
	if !e.State.Static() || e.State.String() != "permanent" || e.Learned {
		t.Fatalf("default entry %+v", e)
	}
}

// V10: append to the all-zero entry floods to both remotes, in order.
func TestV10AppendFloods(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	wantErr(t, "default", tb.Add(entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd), nil)
	wantErr(t, "append", tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend), nil)
	rs, _ := tb.Lookup(bcastMAC, 0)
	if rs != nil {
		t.Fatal("broadcast MAC has no entry of its own")
	}
	rs, _ = tb.Lookup(zeroMAC, 0)
	if !slices.Equal(ips(rs), []string{"192.0.2.2", "192.0.2.3"}) {
		t.Fatalf("remotes %v", ips(rs))
	}
	// Appending a remote that is already there changes nothing.
	wantErr(t, "append again", tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend), nil)
	rs, _ = tb.Lookup(zeroMAC, 0)
	if len(rs) != 2 {
		t.Fatalf("remotes %v", ips(rs))
	}
	// A different port makes it a different remote.
	wantErr(t, "append port", tb.Add(entry(zeroMAC, Permanent, Remote{IP: ip("192.0.2.3"), Port: 4790}), OpAppend), nil)
	rs, _ = tb.Lookup(zeroMAC, 0)
	if len(rs) != 3 || rs[2].Port != 4790 {
		t.Fatalf("remotes %+v", rs)
	}
	// Multicast MACs can flood too.
	wantErr(t, "mcast add", tb.Add(entry(mcastMAC, Permanent, dst("192.0.2.7")), OpAppend), nil)
	wantErr(t, "mcast append", tb.Add(entry(mcastMAC, Permanent, dst("192.0.2.8")), OpAppend), nil)
	rs, _ = tb.Lookup(mcastMAC, 0)
	if !slices.Equal(ips(rs), []string{"192.0.2.7", "192.0.2.8"}) {
		t.Fatalf("mcast remotes %v", ips(rs))
	}
}

// The returned slice is the table's immutable snapshot: an update publishes
// a new one and leaves the old one as it was.
func TestLookupSliceImmutable(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.2")), OpAdd)
	old, _ := tb.Lookup(zeroMAC, 0)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend)
	tb.Del(zeroMAC, 0, &Remote{IP: ip("192.0.2.2")})
	if !slices.Equal(ips(old), []string{"192.0.2.2"}) || cap(old) != 1 {
		t.Fatalf("old snapshot changed: %v", ips(old))
	}
	cur, _ := tb.Lookup(zeroMAC, 0)
	if !slices.Equal(ips(cur), []string{"192.0.2.3"}) {
		t.Fatalf("current %v", ips(cur))
	}
}

// V12 and every row of §3.6's operation table.
func TestOperationTable(t *testing.T) {
	type step struct {
		what string
		e    Entry
		op   Op
		want error
	}
	max := classicCfg()
	max.MaxAddress = 2
	for _, tc := range []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"add then duplicate add", classicCfg(), []step{
			{"add", entry(macM, Permanent, dst("192.0.2.2")), OpAdd, nil},
			{"dup", entry(macM, Permanent, dst("192.0.2.9")), OpAdd, errs.ErrExists},
			{"dup same", entry(macM, Permanent, dst("192.0.2.2")), OpAdd, errs.ErrExists},
		}},
		{"append zero and unicast", classicCfg(), []step{
			{"zero", entry(zeroMAC, Permanent, dst("192.0.2.2")), OpAppend, nil},
			{"zero 2", entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend, nil},
			{"unicast create", entry(macM, Permanent, dst("192.0.2.2")), OpAppend, nil},
			{"unicast append ignored", entry(macM, Permanent, dst("192.0.2.3")), OpAppend, nil},
		}},
		{"replace", classicCfg(), []step{
			{"create", entry(macM, Permanent, dst("192.0.2.2")), OpReplace, nil},
			{"change remote", entry(macM, Permanent, dst("192.0.2.3")), OpReplace, nil},
			{"zero create", entry(zeroMAC, Permanent, dst("192.0.2.2")), OpReplace, errs.ErrNotSupported},
			{"mcast create", entry(mcastMAC, Permanent, dst("192.0.2.2")), OpReplace, errs.ErrNotSupported},
			{"zero add", entry(zeroMAC, Permanent, dst("192.0.2.2")), OpAdd, nil},
			{"zero existing", entry(zeroMAC, Permanent, dst("192.0.2.3")), OpReplace, errs.ErrNotSupported},
			{"zero change", entry(zeroMAC, Reachable, dst("192.0.2.3")), OpChange, errs.ErrNotSupported},
		}},
		{"state lacking", classicCfg(), []step{
			{"none", entry(macM, 0, dst("192.0.2.2")), OpAdd, errs.ErrInvalid},
			{"noarp only", entry(macM, NoARP, dst("192.0.2.2")), OpAdd, errs.ErrInvalid},
			{"stale", entry(macM, 0x04, dst("192.0.2.2")), OpReplace, errs.ErrInvalid},
			{"noarp reachable", entry(macM, NoARP|Reachable, dst("192.0.2.2")), OpAdd, nil},
		}},
		{"no dst", classicCfg(), []step{
			{"none", entry(macM, Permanent), OpAdd, errs.ErrInvalid},
			{"invalid addr", entry(macM, Permanent, Remote{Port: 4789}), OpAdd, errs.ErrInvalid},
			{"state first", entry(macM, 0), OpAdd, errs.ErrInvalid},
		}},
		{"family v4 device", classicCfg(), []step{
			{"v6 dst", entry(macM, Permanent, dst("2001:db8::2")), OpAdd, errs.ErrAFNoSupport},
			{"mapped v6 dst", entry(macM, Permanent, dst("::ffff:192.0.2.2")), OpAdd, errs.ErrAFNoSupport},
		}},
		{"family v6 device", Config{Family: 6, VNI: 5}, []step{
			{"v4 dst", entry(macM, Permanent, dst("192.0.2.2")), OpAdd, errs.ErrAFNoSupport},
			{"v6 dst", entry(macM, Permanent, dst("2001:db8::2")), OpAdd, nil},
		}},
		{"missing, no create", classicCfg(), []step{
			{"change", entry(macM, Permanent, dst("192.0.2.2")), OpChange, errs.ErrNoEntry},
			{"add", entry(macM, Permanent, dst("192.0.2.2")), OpAdd, nil},
			{"change existing", entry(macM, Reachable, dst("192.0.2.4")), OpChange, nil},
		}},
		{"maxaddress", max, []step{
			{"default", entry(zeroMAC, Permanent|Reachable, dst("192.0.2.2")), OpAdd, nil},
			{"one", entry(macM, Permanent, dst("192.0.2.2")), OpAdd, nil},
			{"two", entry(macN, Permanent, dst("192.0.2.2")), OpAdd, errs.ErrNoSpace},
			{"replace new", entry(macN, Permanent, dst("192.0.2.2")), OpReplace, errs.ErrNoSpace},
			{"replace existing", entry(macM, Permanent, dst("192.0.2.3")), OpReplace, nil},
			{"append remote is not an entry", entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend, nil},
		}},
		{"flowpath checks", classicCfg(), []step{
			{"two remotes", entry(macM, Permanent, dst("192.0.2.2"), dst("192.0.2.3")), OpAdd, errs.ErrInvalid},
			{"vni range", entry(macM, Permanent, Remote{IP: ip("192.0.2.2"), VNI: 1 << 24, HasVNI: true}), OpAdd, errs.ErrInvalid},
			{"op", entry(macM, Permanent, dst("192.0.2.2")), 0, errs.ErrInvalid},
			{"op 9", entry(macM, Permanent, dst("192.0.2.2")), 9, errs.ErrInvalid},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, _ := newTestTable(tc.cfg, 1)
			for _, s := range tc.steps {
				wantErr(t, s.what, tb.Add(s.e, s.op), s.want)
			}
		})
	}
}

// What the successful rows of the table did.
func TestOperationEffects(t *testing.T) {
	tb, c := newTestTable(classicCfg(), 1)
	t0 := c.now
	wantErr(t, "add", tb.Add(entry(macM, Permanent, dst("192.0.2.2")), OpAdd), nil)

	// Unicast append: the remote is not added, the state is taken.
	c.advance(5e9)
	wantErr(t, "append", tb.Add(entry(macM, Reachable, dst("192.0.2.3")), OpAppend), nil)
	e, _ := tb.Get(macM, 0)
	if !slices.Equal(ips(e.Remotes), []string{"192.0.2.2"}) || e.State != Reachable || e.Updated != c.now {
		t.Fatalf("after unicast append: %+v", e)
	}

	// Replace swaps the remote; the same remote again changes nothing
	// (Updated stays).
	c.advance(5e9)
	wantErr(t, "replace", tb.Add(entry(macM, Reachable, Remote{IP: ip("192.0.2.4"), Port: 9000, VNI: 7, HasVNI: true, Ifindex: 3}), OpReplace), nil)
	e, _ = tb.Get(macM, 0)
	want := Remote{IP: ip("192.0.2.4"), Port: 9000, VNI: 7, HasVNI: true, Ifindex: 3}
	if len(e.Remotes) != 1 || e.Remotes[0] != want || e.Updated != c.now {
		t.Fatalf("after replace: %+v", e)
	}
	upd := e.Updated
	c.advance(5e9)
	wantErr(t, "replace same", tb.Add(entry(macM, Reachable, want), OpReplace), nil)
	if e, _ = tb.Get(macM, 0); e.Updated != upd {
		t.Fatalf("no-op replace moved Updated: %d → %d", upd, e.Updated)
	}
	if e.Used != t0 {
		t.Fatalf("Used %d, want creation time %d", e.Used, t0)
	}

	// Defaults given explicitly are stored as defaults.
	wantErr(t, "explicit defaults", tb.Add(entry(macN, Permanent, Remote{IP: ip("192.0.2.5"), Port: 4789, VNI: 100, HasVNI: true}), OpAdd), nil)
	e, _ = tb.Get(macN, 0)
	if e.Remotes[0] != dst("192.0.2.5") {
		t.Fatalf("explicit defaults stored as %+v", e.Remotes[0])
	}
	if s := e.Remotes[0].String(); s != "dst 192.0.2.5" {
		t.Fatalf("String %q", s)
	}
	if s := want.String(); s != "dst 192.0.2.4 port 9000 vni 7 via 3" {
		t.Fatalf("String %q", s)
	}
}

// §3.6 del row: per-remote delete with defaults, last remote removes the
// entry, missing MAC is ENOENT, a non-matching dst is a silent no-op.
func TestDel(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.2")), OpAdd)
	tb.Add(entry(zeroMAC, Permanent, dst("192.0.2.3")), OpAppend)
	tb.Add(entry(zeroMAC, Permanent, Remote{IP: ip("192.0.2.4"), Port: 4790, VNI: 9, HasVNI: true, Ifindex: 2}), OpAppend)
	tb.Add(entry(macM, Permanent, dst("192.0.2.2")), OpAdd)

	wantErr(t, "missing", tb.Del(macN, 0, nil), errs.ErrNoEntry)
	wantErr(t, "missing with dst", tb.Del(macN, 0, &Remote{IP: ip("192.0.2.2")}), errs.ErrNoEntry)

	// No match: port differs, vni differs, ifindex differs, address differs.
	for _, r := range []Remote{
		{IP: ip("192.0.2.4")},
		{IP: ip("192.0.2.4"), Port: 4790, VNI: 9, HasVNI: true},
		{IP: ip("192.0.2.4"), Port: 4790, Ifindex: 2},
		{IP: ip("192.0.2.9")},
		{IP: ip("192.0.2.2"), Port: 4790},
	} {
		wantErr(t, "no match "+r.String(), tb.Del(zeroMAC, 0, &r), nil)
	}
	if rs, _ := tb.Lookup(zeroMAC, 0); len(rs) != 3 {
		t.Fatalf("non-matching del removed something: %v", ips(rs))
	}
	// Match with the device defaults written out.
	wantErr(t, "explicit defaults", tb.Del(zeroMAC, 0, &Remote{IP: ip("192.0.2.2"), Port: 4789, VNI: 100, HasVNI: true}), nil)
	wantErr(t, "full match", tb.Del(zeroMAC, 0, &Remote{IP: ip("192.0.2.4"), Port: 4790, VNI: 9, HasVNI: true, Ifindex: 2}), nil)
	rs, _ := tb.Lookup(zeroMAC, 0)
	if !slices.Equal(ips(rs), []string{"192.0.2.3"}) {
		t.Fatalf("left %v", ips(rs))
	}
	wantErr(t, "last remote", tb.Del(zeroMAC, 0, &Remote{IP: ip("192.0.2.3")}), nil)
	if _, ok := tb.Lookup(zeroMAC, 0); ok {
		t.Fatal("entry outlived its last remote")
	}
	// No dst (nil, invalid or unspecified address): the whole entry.
	wantErr(t, "unspecified", tb.Del(macM, 0, &Remote{IP: ip("0.0.0.0")}), nil)
	if tb.Len() != 0 {
		t.Fatalf("Len %d", tb.Len())
	}
	tb.Add(entry(macM, Permanent, dst("192.0.2.2")), OpAdd)
	wantErr(t, "nil", tb.Del(macM, 0, nil), nil)
	wantErr(t, "again", tb.Del(macM, 0, nil), errs.ErrNoEntry)
}

// Classic devices ignore the VNI in keys; external ones key on it.
func TestVNIKeys(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	tb.Add(Entry{MAC: macM, VNI: 5, State: Permanent, Remotes: []Remote{dst("192.0.2.2")}}, OpAdd)
	if _, ok := tb.Lookup(macM, 77); !ok {
		t.Fatal("classic lookup should ignore the VNI")
	}
	wantErr(t, "classic dup", tb.Add(Entry{MAC: macM, VNI: 6, State: Permanent, Remotes: []Remote{dst("192.0.2.2")}}, OpAdd), errs.ErrExists)
	if e := dump(tb); len(e) != 1 || e[0].VNI != 0 {
		t.Fatalf("classic dump %+v", e)
	}

	ext, _ := newTestTable(Config{External: true, Family: 4, Port: 4789}, 1)
	for vni := uint32(1); vni <= 3; vni++ {
		wantErr(t, "ext add", ext.Add(Entry{MAC: macM, VNI: vni, State: Permanent, Remotes: []Remote{dst("192.0.2." + string(rune('0'+vni)))}}, OpAdd), nil)
	}
	for vni := uint32(1); vni <= 3; vni++ {
		rs, ok := ext.Lookup(macM, vni)
		if !ok || rs[0].IP != ip("192.0.2."+string(rune('0'+vni))) {
			t.Fatalf("vni %d: %v", vni, ips(rs))
		}
	}
	if _, ok := ext.Lookup(macM, 4); ok {
		t.Fatal("vni 4 found")
	}
	wantErr(t, "src_vni range", ext.Add(Entry{MAC: macM, VNI: 1 << 24, State: Permanent, Remotes: []Remote{dst("192.0.2.2")}}, OpAdd), errs.ErrInvalid)
	wantErr(t, "ext del", ext.Del(macM, 2, nil), nil)
	wantErr(t, "ext del again", ext.Del(macM, 2, nil), errs.ErrNoEntry)
	d := dump(ext)
	if len(d) != 2 || d[0].VNI != 1 || d[1].VNI != 3 {
		t.Fatalf("ext dump %+v", d)
	}
}

func TestDumpOrderAndStop(t *testing.T) {
	tb, _ := newTestTable(Config{External: true}, 1)
	g := &pcg{s: 3}
	for i := 0; i < 300; i++ {
		m := [6]byte{2, 0, 0, 0, byte(g.next()), byte(g.next())}
		tb.Add(Entry{MAC: m, VNI: uint32(g.n(4)), State: Permanent, Remotes: []Remote{dst("192.0.2.2")}}, OpReplace)
	}
	d := dump(tb)
	if len(d) != tb.Len() {
		t.Fatalf("dump %d entries, Len %d", len(d), tb.Len())
	}
	for i := 1; i < len(d); i++ {
		a, b := d[i-1], d[i]
		if a.VNI > b.VNI || (a.VNI == b.VNI && macWord(a.MAC) >= macWord(b.MAC)) {
			t.Fatalf("order: %v/%d before %v/%d", a.MAC, a.VNI, b.MAC, b.VNI)
		}
	}
	n := 0
	tb.Dump(func(Entry) bool { n++; return n < 5 })
	if n != 5 {
		t.Fatalf("Dump did not stop: %d", n)
	}
	// Dumped copies are the caller's.
	d[0].Remotes[0].IP = ip("10.9.9.9")
	if e, _ := tb.Get(d[0].MAC, d[0].VNI); e.Remotes[0].IP != ip("192.0.2.2") {
		t.Fatal("dump shares remotes with the table")
	}
}

func TestStateString(t *testing.T) {
	for s, want := range map[State]string{
		Permanent: "permanent", Permanent | Reachable: "permanent", NoARP: "static",
		NoARP | Reachable: "static", Reachable: "dynamic", 0: "state=0x0", 0x04: "state=0x4",
	} {
		if s.String() != want {
			t.Errorf("%#x: %q, want %q", uint8(s), s.String(), want)
		}
	}
	if !Permanent.Static() || !NoARP.Static() || Reachable.Static() {
		t.Error("Static")
	}
	for o, want := range map[Op]string{OpAdd: "add", OpAppend: "append", OpReplace: "replace", OpChange: "change", 0: "op(0)"} {
		if o.String() != want {
			t.Errorf("op %d: %q", o, o.String())
		}
	}
}

// Error messages carry the MAC (and src_vni in external mode).
func TestErrorContext(t *testing.T) {
	tb, _ := newTestTable(classicCfg(), 1)
	err := tb.Del(macM, 0, nil)
	if err == nil || err.Error() != "fdb 02:aa:bb:cc:dd:01: no such file or directory" {
		t.Fatalf("%v", err)
	}
	ext, _ := newTestTable(Config{External: true}, 1)
	err = ext.Del(macM, 7, nil)
	if err == nil || err.Error() != "fdb 02:aa:bb:cc:dd:01 src_vni 7: no such file or directory" {
		t.Fatalf("%v", err)
	}
}
