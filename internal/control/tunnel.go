package control

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"flowpath/api"
	"flowpath/internal/dataplane"
	"flowpath/internal/errs"
	"flowpath/internal/fdb"
	"flowpath/internal/hdr"
	"flowpath/internal/tunnel"
)

const (
	vxlanMaxVNI     = 1 << 24
	vxlanPortLinux  = 8472 // the kernel's default when no dstport is given
	genevePort      = 6081
	vxlanHeadroom4  = 50
	vxlanHeadroom6  = 70
	geneveHeadroom4 = 50 // without options
	geneveHeadroom6 = 70
	defaultAgeing   = 300 * time.Second
)

// tunnelLink is what a VXLAN or Geneve link adds to a link.
type tunnelLink struct {
	cfg    dataplane.TunnelDev
	api    api.Link // the configuration as given, for show
	family int      // 4, 6, or 0 (external: both)
	stop   context.CancelFunc
}

func parseOptAddr(s, what string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%s %q: %w", what, s, errs.ErrInvalid)
	}
	return a, nil
}

// newTunnelLink validates a vxlan or geneve link add the way the kernel
// does (vxlan_nl2conf, vxlan_config_validate) and fills l's MTU.
func (m *Model) newTunnelLink(a *api.Link, l *link) (*tunnelLink, error) {
	t := &tunnelLink{}
	c := &t.cfg
	var remote, group, local string
	var dev string
	switch a.Kind {
	case "vxlan":
		v := a.VXLAN
		if v == nil {
			return nil, fmt.Errorf("vxlan: missing virtual network identifier: %w", errs.ErrInvalid)
		}
		if v.VNI >= vxlanMaxVNI {
			return nil, fmt.Errorf("VXLAN ID must be lower than %d: %w", vxlanMaxVNI, errs.ErrRange)
		}
		if v.External && v.VNI != 0 {
			return nil, fmt.Errorf("vxlan: both 'external' and vni cannot be specified: %w", errs.ErrInvalid)
		}
		c.Kind, c.External, c.VNI = dataplane.TunnelVXLAN, v.External, v.VNI
		c.DstPort = v.DstPort
		if c.DstPort == 0 {
			c.DstPort = vxlanPortLinux
		}
		if v.SrcPortMin != 0 || v.SrcPortMax != 0 {
			if v.SrcPortMin >= v.SrcPortMax {
				return nil, fmt.Errorf("vxlan: srcport range %d %d is empty: %w", v.SrcPortMin, v.SrcPortMax, errs.ErrInvalid)
			}
			c.SrcMin, c.SrcMax = v.SrcPortMin, v.SrcPortMax
		}
		c.TTL, c.TTLInh, c.TOS = v.TTL, v.TTLInherit, v.TOS
		c.Learning = !v.External
		if v.Learning != nil && !v.External {
			c.Learning = *v.Learning
		}
		c.UDPCsum, c.GBP = v.UDPCsum == nil || *v.UDPCsum, v.GBP
		c.Bypass = v.LocalBypass == nil || *v.LocalBypass
		remote, group, local, dev = v.Remote, v.Group, v.Local, v.Dev
	case "geneve":
		g := a.Geneve
		if g == nil {
			return nil, fmt.Errorf("geneve: missing virtual network identifier: %w", errs.ErrInvalid)
		}
		if g.VNI >= vxlanMaxVNI {
			return nil, fmt.Errorf("geneve: VNI must be lower than %d: %w", vxlanMaxVNI, errs.ErrRange)
		}
		if g.External && (g.VNI != 0 || g.Remote != "") {
			return nil, fmt.Errorf("geneve: external cannot have a vni or a remote: %w", errs.ErrInvalid)
		}
		if !g.External && g.Remote == "" {
			return nil, fmt.Errorf("geneve: remote is required: %w", errs.ErrInvalid)
		}
		c.Kind, c.External, c.VNI = dataplane.TunnelGeneve, g.External, g.VNI
		c.DstPort = g.DstPort
		if c.DstPort == 0 {
			c.DstPort = genevePort
		}
		c.TTL, c.TTLInh, c.TOS, c.UDPCsum, c.Label = g.TTL, g.TTLInherit, g.TOS, g.UDPCsum, g.Label
		remote = g.Remote
	}
	var err error
	if c.Remote, err = parseOptAddr(remote, "remote"); err != nil {
		return nil, err
	}
	g, err := parseOptAddr(group, "group")
	if err != nil {
		return nil, err
	}
	if g.IsValid() {
		if !g.IsMulticast() {
			return nil, fmt.Errorf("group %s is not multicast: %w", g, errs.ErrInvalid)
		}
		if dev == "" {
			return nil, fmt.Errorf("vxlan: 'group' requires 'dev' to be specified: %w", errs.ErrInvalid)
		}
		c.Remote = g
	}
	if c.Local, err = parseOptAddr(local, "local"); err != nil {
		return nil, err
	}
	if c.Remote.IsValid() && c.Local.IsValid() && c.Remote.Is4() != c.Local.Is4() {
		return nil, fmt.Errorf("local and remote address families differ: %w", errs.ErrInvalid)
	}
	switch {
	case c.External:
		t.family = 0
	case c.Remote.IsValid() && c.Remote.Is6(), c.Local.IsValid() && c.Local.Is6():
		t.family = 6
	default:
		t.family = 4
	}
	head := uint32(vxlanHeadroom4)
	if t.family == 6 {
		head = vxlanHeadroom6
	}
	l.mtu = 1500
	if dev != "" {
		lower, err := m.linkByName(dev)
		if err != nil {
			return nil, err
		}
		c.Lower = lower.index
		l.mtu = lower.mtu - head
	}
	// One device per VNI, port and family (external devices compare as
	// VNI 0: one per port and family), among devices of the same kind of
	// receive (classic vs external).
	for _, o := range m.links {
		if o.tun == nil || o.tun.cfg.Kind != c.Kind || o.tun.cfg.DstPort != c.DstPort || o.tun.cfg.External != c.External {
			continue
		}
		sameFamily := o.tun.family == 0 || t.family == 0 || o.tun.family == t.family
		if sameFamily && (c.External || o.tun.cfg.VNI == c.VNI) {
			return nil, fmt.Errorf("A %s device with the specified VNI already exists (%s): %w", a.Kind, o.name, errs.ErrExists)
		}
	}
	if c.Kind == dataplane.TunnelVXLAN && !c.External {
		ageing := defaultAgeing
		if a.VXLAN.Ageing != 0 {
			ageing = time.Duration(a.VXLAN.Ageing) * time.Second
		}
		fam := t.family
		c.FDB = fdb.New(fdb.Config{Ageing: ageing, MaxAddress: int(a.VXLAN.MaxAddress), Learning: c.Learning, Family: fam,
			VNI: c.VNI, Port: c.DstPort}, dataplane.MaxWorkers+1)
		if c.Remote.IsValid() {
			// A default remote is the all-zero entry (NUD_REACHABLE|NUD_PERMANENT).
			if err := c.FDB.Add(fdb.Entry{Remotes: []fdb.Remote{{IP: c.Remote}}, State: fdb.Permanent | fdb.Reachable}, fdb.OpAdd); err != nil {
				return nil, fmt.Errorf("default remote: %w", err)
			}
		}
	}
	t.api = *a
	return t, nil
}

// start runs the tunnel's background work (FDB learning and ageing).
func (t *tunnelLink) start() {
	if t.cfg.FDB == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	go t.cfg.FDB.Run(ctx)
}

func (t *tunnelLink) close() {
	if t != nil && t.stop != nil {
		t.stop()
	}
}

// checkTunnelUp refuses to bring up a tunnel whose UDP port an up device
// of a different receive kind holds (a classic and an external VXLAN on
// one port need two sockets: the second bind fails with EADDRINUSE).
func (m *Model) checkTunnelUp(l *link) error {
	if l.tun == nil {
		return nil
	}
	for _, o := range m.links {
		if o == l || o.tun == nil || !o.up || o.tun.cfg.DstPort != l.tun.cfg.DstPort {
			continue
		}
		if o.tun.cfg.Kind != l.tun.cfg.Kind || o.tun.cfg.External != l.tun.cfg.External {
			return fmt.Errorf("UDP port %d is in use by %s: %w", l.tun.cfg.DstPort, o.name, errs.ErrAddrInUse)
		}
	}
	return nil
}

// checkTunnelMTU refuses an MTU larger than the lower device allows.
func (m *Model) checkTunnelMTU(l *link, mtu int) error {
	if l.tun == nil || l.tun.cfg.Lower == 0 {
		return nil
	}
	lower := m.links[l.tun.cfg.Lower]
	if lower == nil {
		return nil
	}
	head := vxlanHeadroom4
	if l.tun.family == 6 {
		head = vxlanHeadroom6
	}
	if mtu > int(lower.mtu)-head {
		return fmt.Errorf("mtu %d above %s's %d - %d: %w", mtu, lower.name, lower.mtu, head, errs.ErrInvalid)
	}
	return nil
}

// fdbTable finds the FDB of a classic VXLAN link.
func (m *Model) fdbTable(dev string) (*link, *fdb.Table, error) {
	l, err := m.linkByName(dev)
	if err != nil {
		return nil, nil, err
	}
	if l.tun == nil || l.tun.cfg.Kind != dataplane.TunnelVXLAN {
		return nil, nil, fmt.Errorf("%s is not a vxlan device: %w", dev, errs.ErrNotSupported)
	}
	if l.tun.cfg.FDB == nil {
		return nil, nil, fmt.Errorf("%s is flow-based (external): it has no forwarding database: %w", dev, errs.ErrNotSupported)
	}
	return l, l.tun.cfg.FDB, nil
}

func (m *Model) toFDBEntry(a *api.FDB, needDst bool) (fdb.Entry, *fdb.Remote, error) {
	var e fdb.Entry
	mac, err := hdr.ParseMAC(a.MAC)
	if err != nil {
		return e, nil, fmt.Errorf("lladdr %q: %w", a.MAC, errs.ErrInvalid)
	}
	e.MAC = mac
	switch a.State {
	case "", "permanent":
		e.State = fdb.Permanent
	case "static":
		e.State = fdb.NoARP
	case "dynamic", "reachable":
		e.State = fdb.Reachable
	default:
		return e, nil, fmt.Errorf("fdb state %q: %w", a.State, errs.ErrInvalid)
	}
	if a.Dst == "" {
		if needDst {
			return e, nil, fmt.Errorf("fdb entry needs a dst: %w", errs.ErrInvalid)
		}
		return e, nil, nil
	}
	ip, err := netip.ParseAddr(a.Dst)
	if err != nil || ip.Zone() != "" {
		return e, nil, fmt.Errorf("dst %q: %w", a.Dst, errs.ErrInvalid)
	}
	r := fdb.Remote{IP: ip, Port: a.Port, VNI: a.VNI, HasVNI: a.SetVNI}
	if a.SetVNI && a.VNI >= vxlanMaxVNI {
		return e, nil, fmt.Errorf("vni %d: %w", a.VNI, errs.ErrRange)
	}
	if a.Via != "" {
		via, err := m.linkByName(a.Via)
		if err != nil {
			return e, nil, fmt.Errorf("via %s: %w", a.Via, errs.ErrAddrNotAvail)
		}
		r.Ifindex = via.index
	}
	e.Remotes = []fdb.Remote{r}
	return e, &e.Remotes[0], nil
}

// fdbChange runs fdb add|append|replace|del.
func (m *Model) fdbChange(op string, a *api.FDB) error {
	_, t, err := m.fdbTable(a.Dev)
	if err != nil {
		return err
	}
	e, r, err := m.toFDBEntry(a, op != api.OpFDBDel)
	if err != nil {
		return err
	}
	switch op {
	case api.OpFDBAdd:
		return t.Add(e, fdb.OpAdd)
	case api.OpFDBAppend:
		return t.Add(e, fdb.OpAppend)
	case api.OpFDBReplace:
		return t.Add(e, fdb.OpReplace)
	}
	return t.Del(e.MAC, 0, r)
}

func (m *Model) fdbShow(f *api.Filter) (*api.Response, error) {
	var out []api.FDB
	for _, l := range m.sortedLinks() {
		if l.tun == nil || l.tun.cfg.FDB == nil || (f != nil && f.Dev != "" && f.Dev != l.name) {
			continue
		}
		l.tun.cfg.FDB.Dump(func(e fdb.Entry) bool {
			for _, r := range e.Remotes {
				a := api.FDB{MAC: macString(e.MAC), Dev: l.name, Dst: r.IP.String(), Port: r.Port,
					VNI: r.VNI, SetVNI: r.HasVNI, Learned: e.Learned}
				a.State = e.State.String()
				if r.Ifindex != 0 {
					a.Via = m.devName(r.Ifindex)
				}
				out = append(out, a)
			}
			return true
		})
	}
	if f != nil && f.Dev != "" {
		if _, err := m.linkByName(f.Dev); err != nil {
			return nil, err
		}
	}
	return &api.Response{FDBs: out}, nil
}

// toEncap builds a route's encapsulation from its API form, with the
// encap types this daemon has (Options.EncapTypes); multipath says it is
// a nexthop of a multipath route, where every type error is EOPNOTSUPP.
func (m *Model) toEncap(a *api.Encap, multipath bool) (*tunnel.Encap, error) {
	if a == nil {
		return nil, nil
	}
	c := tunnel.EncapConfig{Type: a.Type, ID: a.ID, Dst: a.Dst, Src: a.Src, TTL: a.TTL, SetTTL: a.SetTTL, TOS: a.TOS, Flags: a.Flags,
		GeneveOpts: a.GeneveOpts, VXLANOpts: a.VXLANOpts, SetVXLANOpts: a.SetVXLANOpts, Labels: a.Labels, LSEs: a.LSEs}
	return m.encapTypes.Build(&c, multipath)
}

// fromEncap is the API form of an encapsulation, for show.
func fromEncap(e *tunnel.Encap) *api.Encap {
	if e == nil {
		return nil
	}
	c := e.Config()
	return &api.Encap{Type: c.Type, ID: c.ID, Dst: c.Dst, Src: c.Src, TTL: c.TTL, SetTTL: c.SetTTL, TOS: c.TOS, Flags: c.Flags,
		GeneveOpts: c.GeneveOpts, VXLANOpts: c.VXLANOpts, SetVXLANOpts: c.SetVXLANOpts, Labels: c.Labels}
}
