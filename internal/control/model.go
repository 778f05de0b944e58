package control

import (
	"crypto/rand"
	"fmt"
	"maps"
	"net/netip"
	"sort"
	"strings"

	"flowpath/api"
	"flowpath/internal/dataplane"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
	"flowpath/internal/hdr"
	"flowpath/internal/port"
	"flowpath/internal/tunnel"
)

// PortOpener opens the medium of a link of a kind that has one (afpacket,
// tap; mem in tests). cmd/flowpathd supplies it: the control plane never
// names a concrete port type.
type PortOpener func(l *api.Link) (port.Port, error)

// Options configure a Model.
type Options struct {
	Engine   *dataplane.Engine
	OpenPort PortOpener
	// HashL4 selects 5-tuple multipath hashing (fib_multipath_hash_policy 1).
	HashL4 bool
	// EncapTypes are the route encapsulation types routes may use, as a
	// kernel has the lwtunnel types it was built or loaded with; a route
	// with another gets EOPNOTSUPP. Zero means all (tunnel.AllEncapTypes);
	// NoEncapTypes none.
	EncapTypes tunnel.EncapTypes
	// NoEncapTypes: no route may carry an encapsulation.
	NoEncapTypes bool
}

// link is the control plane's record of one device.
type link struct {
	index    uint32
	name     string
	kind     string
	ifname   string
	queues   int
	mac      hdr.MAC
	mtu      uint32
	up       bool
	loopback bool
	port     port.Port
	addrs    []netip.Prefix // in the order added
	// attrs are what an address was added with beyond its prefix.
	attrs   map[netip.Prefix]addrAttrs
	kroutes []fib.Route // routes this link's addresses put in the FIB
	tun     *tunnelLink // vxlan and geneve links
	vlan    *vlanLink   // vlan links
}

func (l *link) clone() *link {
	c := *l
	c.addrs = append([]netip.Prefix(nil), l.addrs...)
	c.attrs = maps.Clone(l.attrs)
	c.kroutes = append([]fib.Route(nil), l.kroutes...)
	return &c
}

// Model is the running configuration.
type Model struct {
	e      *dataplane.Engine
	open   PortOpener
	hashL4 bool
	links  map[uint32]*link
	fib    *fib.FIB
	next   uint32
	mpls   map[uint32]*dataplane.LabelRoute // immutable once published; replaced on change
	sys    sysctls
	// encapTypes are the encapsulation types routes may use.
	encapTypes tunnel.EncapTypes
}

// NewModel makes a model with a loopback device (lo, index 1, 127.0.0.1/8
// and ::1/128, up) and publishes it.
func NewModel(o Options) (*Model, error) {
	m := &Model{e: o.Engine, open: o.OpenPort, hashL4: o.HashL4, links: map[uint32]*link{}, fib: fib.Empty(), next: 2,
		sys: defaultSysctls(), encapTypes: o.EncapTypes}
	switch {
	case o.NoEncapTypes:
		m.encapTypes = 0
	case m.encapTypes == 0:
		m.encapTypes = tunnel.AllEncapTypes
	}
	lo := &link{index: 1, name: "lo", kind: "loopback", mtu: 65536, up: true, loopback: true,
		addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}}
	txn := m.fib.Begin()
	if err := m.syncKernelRoutes(txn, lo); err != nil {
		return nil, err
	}
	m.links[1] = lo
	m.fib = txn.Commit()
	m.publish()
	return m, nil
}

// publish builds the snapshot from the model and hands it to the engine.
func (m *Model) publish() {
	var max uint32
	for i := range m.links {
		if i > max {
			max = i
		}
	}
	s := &dataplane.Snapshot{Devices: make([]*dataplane.Device, max+1), FIB: m.fib, HashL4: m.hashL4, MPLS: m.mpls,
		MPLSNoTTLPropagate: !m.sys.mplsTTLPropagate, MPLSDefaultTTL: m.sys.mplsDefaultTTL}
	for i, l := range m.links {
		d := &dataplane.Device{Index: i, Name: l.name, Kind: l.kind, MAC: l.mac, MTU: l.mtu,
			Up: l.up, Loopback: l.loopback, Port: l.port}
		if l.tun != nil {
			d.Tunnel = &l.tun.cfg
		}
		for _, a := range l.addrs {
			if a.Addr().Is4() {
				d.Addr4 = append(d.Addr4, a)
			} else {
				d.Addr6 = append(d.Addr6, a)
			}
		}
		s.Devices[i] = d
	}
	vlanDevices(m.links, s.Devices)
	m.e.Publish(s)
}

// Handle executes one request. It is not safe for concurrent use: the
// server serialises calls.
func (m *Model) Handle(req *api.Request) *api.Response {
	resp, err := m.handle(req)
	if err != nil {
		return &api.Response{Error: err.Error(), Code: errs.Code(err)}
	}
	if resp == nil {
		resp = &api.Response{}
	}
	return resp
}

func (m *Model) handle(req *api.Request) (*api.Response, error) {
	if req.Version != api.Version {
		return nil, fmt.Errorf("protocol version %d, want %d: %w", req.Version, api.Version, errs.ErrInvalid)
	}
	need := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%s: missing %s: %w", req.Op, what, errs.ErrInvalid)
		}
		return nil
	}
	switch req.Op {
	case api.OpLinkAdd:
		if err := need(req.Link != nil, "link"); err != nil {
			return nil, err
		}
		return nil, m.linkAdd(req.Link)
	case api.OpLinkSet:
		if err := need(req.Link != nil, "link"); err != nil {
			return nil, err
		}
		return nil, m.linkSet(req.Link)
	case api.OpLinkDel:
		if err := need(req.Link != nil, "link"); err != nil {
			return nil, err
		}
		return nil, m.linkDel(req.Link.Name)
	case api.OpLinkShow:
		return m.linkShow(req)
	case api.OpAddrAdd, api.OpAddrDel:
		if err := need(req.Addr != nil, "address"); err != nil {
			return nil, err
		}
		if req.Op == api.OpAddrAdd {
			return nil, m.addrAdd(req.Addr)
		}
		return nil, m.addrDel(req.Addr)
	case api.OpAddrShow:
		return m.addrShow(req.Filter)
	case api.OpAddrFlush:
		return nil, m.addrFlush(req.Filter)
	case api.OpRouteAdd, api.OpRouteReplace, api.OpRouteAppend, api.OpRoutePrepend, api.OpRouteChange:
		if err := need(req.Route != nil, "route"); err != nil {
			return nil, err
		}
		flags := map[string]fib.AddFlags{api.OpRouteAdd: fib.FlagsAdd, api.OpRouteReplace: fib.FlagsReplace,
			api.OpRouteAppend: fib.FlagsAppend, api.OpRoutePrepend: fib.FlagsPrepend, api.OpRouteChange: fib.FlagsChange}[req.Op]
		return nil, m.routeAdd(req.Route, flags)
	case api.OpRouteDel:
		if err := need(req.Route != nil, "route"); err != nil {
			return nil, err
		}
		return nil, m.routeDel(req.Route)
	case api.OpRouteShow:
		return m.routeShow(req.Filter)
	case api.OpRouteFlush:
		return nil, m.routeFlush(req.Filter)
	case api.OpRouteGet:
		if err := need(req.RouteGet != nil, "route_get"); err != nil {
			return nil, err
		}
		return m.routeGet(req.RouteGet)
	case api.OpRuleAdd, api.OpRuleDel:
		if err := need(req.Rule != nil, "rule"); err != nil {
			return nil, err
		}
		if req.Op == api.OpRuleAdd {
			return nil, m.ruleAdd(req.Rule)
		}
		return nil, m.ruleDel(req.Rule)
	case api.OpRuleShow:
		return m.ruleShow(req.Filter)
	case api.OpNeighAdd, api.OpNeighReplace, api.OpNeighChange, api.OpNeighDel:
		if err := need(req.Neigh != nil, "neighbour"); err != nil {
			return nil, err
		}
		return nil, m.neighChange(req.Op, req.Neigh)
	case api.OpNeighShow:
		return m.neighShow(req.Filter)
	case api.OpNeighFlush:
		return nil, m.neighFlush(req.Filter)
	case api.OpStats:
		return m.stats()
	case api.OpFDBAdd, api.OpFDBAppend, api.OpFDBReplace, api.OpFDBDel:
		if err := need(req.FDB != nil, "fdb entry"); err != nil {
			return nil, err
		}
		return nil, m.fdbChange(req.Op, req.FDB)
	case api.OpFDBShow:
		return m.fdbShow(req.Filter)
	case api.OpSysctlSet:
		if err := need(req.Sysctl != nil, "sysctl"); err != nil {
			return nil, err
		}
		return nil, m.sysctlSet(req.Sysctl)
	case api.OpSysctlShow:
		return m.sysctlShow(req.Sysctl)
	}
	return nil, fmt.Errorf("operation %q: %w", req.Op, errs.ErrNotSupported)
}

// linkByName finds a link; the error reads like iproute2's.
func (m *Model) linkByName(name string) (*link, error) {
	for _, l := range m.links {
		if l.name == name {
			return l, nil
		}
	}
	return nil, fmt.Errorf("Cannot find device %q: %w", name, errs.ErrNoDevice)
}

// sortedLinks lists links by index.
func (m *Model) sortedLinks() []*link {
	out := make([]*link, 0, len(m.links))
	for _, l := range m.links {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}

func (m *Model) allocIndex() (uint32, error) {
	for n := 0; n < dataplane.MaxDevices; n++ {
		i := m.next
		m.next++
		if m.next >= dataplane.MaxDevices {
			m.next = 2
		}
		if _, used := m.links[i]; !used && i >= 2 {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no free device index: %w", errs.ErrNoSpace)
}

func validName(n string) bool {
	if n == "" || len(n) > 15 || n == "." || n == ".." {
		return false
	}
	return !strings.ContainsAny(n, "/: \t\n")
}

func randomMAC() hdr.MAC {
	var m hdr.MAC
	_, _ = rand.Read(m[:])
	m[0] = m[0]&^0x01 | 0x02 // unicast, locally administered
	return m
}

// linkAdd creates a device. Ports are opened before anything changes; if
// a later step fails the port is closed again and the model is untouched.
func (m *Model) linkAdd(a *api.Link) error {
	if !validName(a.Name) {
		return fmt.Errorf("link name %q: %w", a.Name, errs.ErrInvalid)
	}
	if _, err := m.linkByName(a.Name); err == nil {
		return fmt.Errorf("link %s: %w", a.Name, errs.ErrExists)
	}
	l := &link{name: a.Name, kind: a.Kind, ifname: a.IfName, queues: a.Queues, mtu: 1500}
	// Check the arguments before a port is opened: opening may create
	// something outside (a TAP) that a refused request must not touch.
	var mac hdr.MAC
	if a.MAC != "" {
		var err error
		mac, err = hdr.ParseMAC(a.MAC)
		if err != nil || mac.IsMulticast() || mac.IsZero() {
			return fmt.Errorf("link %s: address %q: %w", a.Name, a.MAC, errs.ErrInvalid)
		}
	}
	if a.MTU != 0 {
		if err := checkMTU(a.MTU); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
	}
	switch a.Kind {
	case "dummy":
		l.mac = randomMAC()
	case "vlan":
		if err := m.newVLANLink(a, l); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
	case "vxlan", "geneve":
		t, err := m.newTunnelLink(a, l)
		if err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		l.tun = t
		l.mac = randomMAC()
	case "afpacket", "tap", "mem", "pcap":
		if a.IfName == "" && a.Kind != "mem" && a.Kind != "pcap" {
			return fmt.Errorf("link %s: type %s needs ifname: %w", a.Name, a.Kind, errs.ErrInvalid)
		}
		if a.Queues < 0 || a.Queues > dataplane.MaxWorkers {
			return fmt.Errorf("link %s: queues %d not in 1..%d: %w", a.Name, a.Queues, dataplane.MaxWorkers, errs.ErrRange)
		}
		for _, o := range m.links {
			if o.port != nil && o.kind == a.Kind && o.ifname == a.IfName && a.IfName != "" {
				return fmt.Errorf("link %s: %s %s is already attached as %s: %w", a.Name, a.Kind, a.IfName, o.name, errs.ErrBusy)
			}
		}
		if m.open == nil {
			return fmt.Errorf("link %s: type %s: %w", a.Name, a.Kind, errs.ErrNotSupported)
		}
		p, err := m.open(a)
		if err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		l.port = p
		l.mac = p.HardwareAddr()
		if a.Kind == "tap" || l.mac == (hdr.MAC{}) {
			// The TAP's own MAC belongs to the kernel side of the wire;
			// flowpath is the other station and needs its own.
			l.mac = randomMAC()
		}
		if mtu := p.MTU(); mtu > 0 {
			l.mtu = uint32(mtu)
		}
	case "":
		return fmt.Errorf("link %s: missing type: %w", a.Name, errs.ErrInvalid)
	default:
		return fmt.Errorf("link %s: unknown type %q: %w", a.Name, a.Kind, errs.ErrNotSupported)
	}
	fail := func(err error) error {
		if l.port != nil {
			_ = l.port.Close()
		}
		return err
	}
	if a.MAC != "" {
		l.mac = mac
	}
	if a.MTU != 0 && (l.tun == nil || m.checkTunnelMTU(l, a.MTU) == nil) {
		l.mtu = uint32(a.MTU) // a tunnel's oversized mtu at creation is clamped, as the kernel does
	}
	idx, err := m.allocIndex()
	if err != nil {
		return fail(err)
	}
	l.index = idx
	txn := m.fib.Begin()
	txn.SetRuleDevice(l.name, l.index)
	txn.SetDeviceUp(l.index, false)
	m.e.ResetDevice(idx)
	m.links[idx] = l
	if l.tun != nil {
		l.tun.start()
	}
	m.fib = txn.Commit()
	m.publish()
	if l.port != nil {
		if err := m.e.StartPort(idx, l.port); err != nil {
			delete(m.links, idx)
			txn := m.fib.Begin()
			txn.SetRuleDevice(l.name, 0)
			m.fib = txn.Commit()
			m.publish()
			return fail(fmt.Errorf("link %s: %w", a.Name, err))
		}
	}
	return nil
}

func checkMTU(mtu int) error {
	if mtu < 68 || mtu > 65535 {
		return fmt.Errorf("mtu %d not in 68..65535: %w", mtu, errs.ErrInvalid)
	}
	return nil
}

// linkSet changes admin state, MTU or MAC. All changes of one request
// apply together or not at all.
func (m *Model) linkSet(a *api.Link) error {
	cur, err := m.linkByName(a.Name)
	if err != nil {
		return err
	}
	l := cur.clone()
	if a.NewName != "" && a.NewName != l.name {
		// dev_change_name; since Linux 6.2 a running device may be
		// renamed too.
		if !validName(a.NewName) {
			return fmt.Errorf("link %s: name %q: %w", a.Name, a.NewName, errs.ErrInvalid)
		}
		if _, err := m.linkByName(a.NewName); err == nil {
			return fmt.Errorf("link %s: name %s: %w", a.Name, a.NewName, errs.ErrExists)
		}
		l.name = a.NewName
	}
	if a.MTU != 0 {
		if err := checkMTU(a.MTU); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		if l.loopback && a.MTU < 1280 {
			return fmt.Errorf("link %s: mtu %d: %w", a.Name, a.MTU, errs.ErrInvalid)
		}
		if err := m.checkTunnelMTU(l, a.MTU); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		if err := m.checkVLANSet(l, false, a.MTU); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		l.mtu = uint32(a.MTU)
	}
	if a.MAC != "" {
		mac, err := hdr.ParseMAC(a.MAC)
		if err != nil || mac.IsMulticast() || mac.IsZero() {
			return fmt.Errorf("link %s: address %q: %w", a.Name, a.MAC, errs.ErrInvalid)
		}
		if l.loopback {
			return fmt.Errorf("link %s: loopback has no address: %w", a.Name, errs.ErrNotSupported)
		}
		l.mac = mac
	}
	wasUp := l.up
	if a.Up != nil {
		l.up = *a.Up
	}
	if l.up && !wasUp {
		if err := m.checkTunnelUp(l); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
		if err := m.checkVLANSet(l, true, 0); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
	}
	txn := m.fib.Begin()
	if l.name != cur.name {
		// Rules name devices: those naming the old name lose the link,
		// those naming the new one find it (fib_rules' NETDEV_CHANGENAME).
		txn.SetRuleDevice(cur.name, 0)
		txn.SetRuleDevice(l.name, l.index)
	}
	if l.up != wasUp {
		if err := m.setLinkUp(txn, l, l.up); err != nil {
			return fmt.Errorf("link %s: %w", a.Name, err)
		}
	}
	if err := m.mtuChanged(txn, l, cur.mtu); err != nil {
		return fmt.Errorf("link %s: %w", a.Name, err)
	}
	// The VLANs on this link follow it (down, up, a smaller MTU).
	stacked, err := m.followParent(txn, l, nil)
	if err != nil {
		return fmt.Errorf("link %s: %w", a.Name, err)
	}
	before := map[uint32]*link{l.index: cur}
	for _, c := range stacked {
		before[c.index] = m.links[c.index]
	}
	m.links[l.index] = l
	for _, c := range stacked {
		m.links[c.index] = c
	}
	m.fib = txn.Commit()
	if wasUp && !l.up {
		m.e.Neigh().FlushDevice(l.index)
		for _, c := range stacked {
			m.e.Neigh().FlushDevice(c.index)
		}
	}
	for _, x := range append([]*link{l}, stacked...) {
		if x.ipv6Off() && !before[x.index].ipv6Off() {
			m.e.Neigh().FlushDeviceIPv6(x.index) // its IPv6 went with its MTU
		}
	}
	m.publish()
	return nil
}

// setLinkUp applies an administrative state change of l (a clone the
// caller publishes) to txn, as the kernel's NETDEV_UP / NETDEV_DOWN do:
//
//   - down: routes left without a nexthop through a device that is up
//     go (fib_sync_down_dev, fib6_ifdown), multipath routes keep their
//     live legs; the IPv6 addresses go too unless
//     net.ipv6.conf.all.keep_addr_on_down is positive (addrconf_ifdown),
//     and the link-local one either way; of the address routes only the
//     IPv4 local ones stay.
//   - up: the address routes come back and the link gets its link-local
//     address; the routes that went do not come back.
func (m *Model) setLinkUp(txn *fib.Txn, l *link, up bool) error {
	l.up = up
	for p, at := range l.attrs {
		if at.addedDown {
			at.addedDown = false
			l.attrs[p] = at
		}
	}
	txn.SetDeviceUp(l.index, up)
	if up {
		l.addAutoAddr()
		txn.EnableIPv4(l.index) // fib_sync_up on NETDEV_UP
	} else {
		txn.FlushDeadRoutes(l.index)
		// Link-local addresses go even when addresses are kept; the
		// link makes a new one when it comes up.
		keep := m.sys.keepAddrOnDown > 0
		var gone []netip.Prefix
		for _, p := range l.addrs {
			if p.Addr().Is6() && (!keep || p.Addr().IsLinkLocalUnicast()) {
				gone = append(gone, p)
			}
		}
		_, err := m.removeAddrs(txn, l, gone) // IPv6 only: IPv4 stays on
		return err
	}
	return m.syncKernelRoutes(txn, l)
}

// ipv6MinMTU is IPV6_MIN_MTU: below it a link has no IPv6.
const ipv6MinMTU = 1280

// ipv6Off reports whether IPv6 is off on l: a link whose MTU is below
// IPv6's minimum has no IPv6 (addrconf tears it down); the loopback keeps
// it.
func (l *link) ipv6Off() bool { return !l.loopback && l.mtu < ipv6MinMTU }

// mtuChanged applies what an MTU change from old means for IPv6 on l (a
// clone the caller publishes), as addrconf's NETDEV_CHANGEMTU does: below
// 1280 the link's IPv6 goes as if it were unregistered (addresses, routes
// through it, multipath legs through it, neighbours after the publish);
// back at 1280 or more an up link gets a link-local address again, the
// other addresses do not return.
func (m *Model) mtuChanged(txn *fib.Txn, l *link, old uint32) error {
	wasOff := !l.loopback && old < ipv6MinMTU
	switch {
	case l.ipv6Off() && !wasOff:
		var gone []netip.Prefix
		for _, p := range l.addrs {
			if p.Addr().Is6() {
				gone = append(gone, p)
			}
		}
		txn.FlushDeviceIPv6(l.index)
		if _, err := m.removeAddrs(txn, l, gone); err != nil {
			return err
		}
	case !l.ipv6Off() && wasOff && l.up:
		l.addAutoAddr()
		return m.syncKernelRoutes(txn, l)
	}
	return nil
}

// addAutoAddr gives l what addrconf gives a link when its IPv6 starts (up,
// or an MTU back at 1280): ::1 on a loopback, an EUI-64 link-local
// address on the others, none while IPv6 is off.
func (l *link) addAutoAddr() {
	var auto netip.Prefix
	switch {
	case l.loopback:
		auto = netip.MustParsePrefix("::1/128")
	case l.mac != (hdr.MAC{}) && !l.ipv6Off():
		auto = linkLocal(l.mac)
	}
	if auto.IsValid() && !hasAddr(l.addrs, auto.Addr()) {
		l.addrs = append(l.addrs, auto)
	}
}

// linkDel removes a device: its routes, neighbours and workers go; rules
// naming it stay, detached, as in the kernel.
func (m *Model) linkDel(name string) error {
	l, err := m.linkByName(name)
	if err != nil {
		return err
	}
	if l.loopback {
		return fmt.Errorf("link %s: cannot delete loopback: %w", name, errs.ErrNotSupported)
	}
	// The VLANs stacked on it go first, as the kernel unregisters them
	// with their link.
	for _, c := range m.vlanChildren(l) {
		if err := m.linkDel(c.name); err != nil {
			return err
		}
	}
	txn := m.fib.Begin()
	txn.FlushDevice(l.index)
	// Its addresses go with it, and routes through other links that
	// named one as their source with them (fib_del_ifaddr).
	if _, err := m.removeAddrs(txn, l.clone(), l.addrs); err != nil {
		return err
	}
	txn.SetRuleDevice(l.name, 0)
	m.mplsFlushDevice(l.index)
	delete(m.links, l.index)
	m.fib = txn.Commit()
	m.publish()
	if l.port != nil {
		_ = m.e.StopClosePort(l.index, l.port)
	}
	l.tun.close()
	m.e.Neigh().FlushDevice(l.index)
	return nil
}

func hasAddr(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Addr() == a {
			return true
		}
	}
	return false
}

// linkLocal is the EUI-64 IPv6 link-local address of a MAC (the kernel's
// addrgenmode eui64).
func linkLocal(mac hdr.MAC) netip.Prefix {
	var b [16]byte
	b[0], b[1] = 0xfe, 0x80
	b[8], b[9], b[10] = mac[0]^0x02, mac[1], mac[2]
	b[11], b[12] = 0xff, 0xfe
	b[13], b[14], b[15] = mac[3], mac[4], mac[5]
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// offloadNames lists a port's offloads for link show (api.Link.Offloads).
func offloadNames(o port.Offloads) []string {
	var names []string
	for _, f := range []struct {
		on   bool
		name string
	}{
		{o.RxGSO, "rx-gso"},
		{o.TxGSO, "tx-tcp-segmentation"},
		{o.TxGSO && o.TxUSO, "tx-udp-segmentation"},
		{o.TxGSO && o.TxUDPTunnelGSO, "tx-udp_tnl-segmentation"},
	} {
		if f.on {
			names = append(names, f.name)
		}
	}
	return names
}

func (m *Model) linkShow(req *api.Request) (*api.Response, error) {
	var out []api.Link
	for _, l := range m.sortedLinks() {
		if req.Link != nil && req.Link.Name != "" && req.Link.Name != l.name {
			continue
		}
		up := l.up
		al := api.Link{Name: l.name, Index: l.index, Kind: l.kind, IfName: l.ifname, Queues: l.queues,
			MAC: l.mac.String(), MTU: int(l.mtu), Up: &up}
		if l.loopback {
			al.MAC = "00:00:00:00:00:00"
			al.Flags = []string{"LOOPBACK"}
		} else {
			al.Flags = []string{"BROADCAST", "MULTICAST"}
		}
		al.OperState = "DOWN"
		if l.up {
			al.Flags = append(al.Flags, "UP", "LOWER_UP")
			al.OperState = "UP"
			if l.loopback || l.port == nil {
				al.OperState = "UNKNOWN"
			}
		}
		al.Stats = m.linkStats(l)
		if l.port != nil {
			al.Offloads = offloadNames(l.port.Offloads())
		}
		if l.tun != nil {
			al.VXLAN, al.Geneve = l.tun.api.VXLAN, l.tun.api.Geneve
		}
		m.vlanShow(l, &al)
		if l.vlan != nil && l.up {
			al.OperState = "UP"
		}
		out = append(out, al)
	}
	if req.Link != nil && req.Link.Name != "" && len(out) == 0 {
		return nil, fmt.Errorf("Device %q does not exist: %w", req.Link.Name, errs.ErrNoDevice)
	}
	return &api.Response{Links: out}, nil
}

func (m *Model) linkStats(l *link) *api.LinkStats {
	st, drops := m.e.DeviceStats(l.index)
	ls := &api.LinkStats{RxPackets: st.RxPackets, RxBytes: st.RxBytes, RxDropped: st.RxDropped,
		TxPackets: st.TxPackets, TxBytes: st.TxBytes, TxDropped: st.TxDropped, Drops: drops}
	if l.port != nil {
		ps := l.port.Stats()
		if ps.RxDropped != 0 {
			ls.RxDropped += ps.RxDropped
			ls.Drops["port_rx_dropped"] = ps.RxDropped
		}
		if ps.TxDropped != 0 {
			ls.Drops["port_tx_dropped"] = ps.TxDropped
		}
	}
	if len(ls.Drops) == 0 {
		ls.Drops = nil
	}
	return ls
}

// Close stops every port's workers and closes the ports (TAPs the daemon
// created disappear with them).
func (m *Model) Close() {
	for _, l := range m.sortedLinks() {
		if l.port != nil {
			_ = m.e.StopClosePort(l.index, l.port)
			l.port = nil
		}
		l.tun.close()
	}
}
