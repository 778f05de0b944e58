package control

import (
	"fmt"
	"sort"
	"strings"

	"flowpath/api"
	"flowpath/internal/dataplane"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
	"flowpath/internal/hdr"
)

// vlanLink is a VLAN sub-interface's record: the device below, VID and
// tag protocol. The kernel's rules (net/8021q: vlan_validate, vlan_newlink,
// vlan_check_real_dev, vlan_device_event) as flowpath keeps them:
//
//   - the link below must exist (ENODEV) and carry Ethernet frames: not the
//     loopback (EOPNOTSUPP, NETIF_F_VLAN_CHALLENGED);
//   - VID 0..4094 (4095 and up: ERANGE), protocol 802.1Q or 802.1ad
//     (EPROTONOSUPPORT), one device per (link, protocol, VID) (EEXIST);
//   - MAC and MTU default to the link's; an MTU above the link's is EINVAL
//     at creation and ERANGE later;
//   - the link going down takes its VLANs down, coming up brings them up;
//     a VLAN cannot be set up while its link is down (ENETDOWN); its MTU
//     shrinks with the link's; deleting the link deletes its VLANs.
type vlanLink struct {
	parent uint32
	vid    uint16
	tpid   uint16
}

// maxVLANNesting bounds stacked devices like the kernel's MAX_NEST_DEV.
const maxVLANNesting = 8

func vlanProtocol(name string) (uint16, error) {
	switch strings.ToLower(name) {
	case "", "802.1q":
		return hdr.EtherTypeVLAN, nil
	case "802.1ad":
		return hdr.EtherTypeQinQ, nil
	}
	return 0, fmt.Errorf("vlan protocol %q: %w", name, errs.ErrProtoNoSupport)
}

func vlanProtocolName(tpid uint16) string {
	if tpid == hdr.EtherTypeQinQ {
		return "802.1ad"
	}
	return "802.1Q"
}

// newVLANLink checks a VLAN link request and fills l (MAC and MTU from the
// link below unless the request sets them).
func (m *Model) newVLANLink(a *api.Link, l *link) error {
	if a.VLAN == nil {
		return fmt.Errorf("vlan id not specified: %w", errs.ErrInvalid)
	}
	tpid, err := vlanProtocol(a.VLAN.Protocol)
	if err != nil {
		return err
	}
	if a.VLAN.ID >= 4095 {
		return fmt.Errorf("vlan id %d not in 0..4094: %w", a.VLAN.ID, errs.ErrRange)
	}
	if a.Link == "" {
		return fmt.Errorf("link not specified: %w", errs.ErrInvalid)
	}
	parent, err := m.linkByName(a.Link)
	if err != nil {
		return err
	}
	if parent.loopback {
		return fmt.Errorf("VLANs not supported on %s: %w", parent.name, errs.ErrNotSupported)
	}
	if m.nesting(parent) >= maxVLANNesting {
		return fmt.Errorf("%s: too many stacked devices: %w", parent.name, errs.ErrInvalid)
	}
	for _, o := range m.links {
		if o.vlan != nil && o.vlan.parent == parent.index && o.vlan.tpid == tpid && o.vlan.vid == a.VLAN.ID {
			return fmt.Errorf("VLAN device already exists (%s): %w", o.name, errs.ErrExists)
		}
	}
	if a.MTU > int(parent.mtu) {
		return fmt.Errorf("mtu %d above %s's %d: %w", a.MTU, parent.name, parent.mtu, errs.ErrInvalid)
	}
	l.vlan = &vlanLink{parent: parent.index, vid: a.VLAN.ID, tpid: tpid}
	l.mac, l.mtu = parent.mac, parent.mtu
	return nil
}

// nesting counts the stacked devices below and including l.
func (m *Model) nesting(l *link) int {
	n := 1
	for l.vlan != nil && n <= maxVLANNesting {
		l = m.links[l.vlan.parent]
		if l == nil {
			break
		}
		n++
	}
	return n
}

// vlanChildren lists the VLAN links directly on l, by index.
func (m *Model) vlanChildren(l *link) []*link {
	var out []*link
	for _, o := range m.links {
		if o.vlan != nil && o.vlan.parent == l.index {
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}

// checkVLANSet refuses what a VLAN link cannot become: up on a link that
// is down, an MTU above its link's.
func (m *Model) checkVLANSet(l *link, up bool, mtu int) error {
	if l.vlan == nil {
		return nil
	}
	parent := m.links[l.vlan.parent]
	if parent == nil {
		return nil
	}
	if up && !parent.up {
		return fmt.Errorf("%s is down: %w", parent.name, errs.ErrNetDown)
	}
	if mtu > int(parent.mtu) {
		return fmt.Errorf("mtu %d above %s's %d: %w", mtu, parent.name, parent.mtu, errs.ErrRange)
	}
	return nil
}

// followParent applies a link's new state to the VLANs stacked on it,
// recursively, in txn: they go down and up with it, and their MTU shrinks
// to fit. It returns the changed records; the caller stores them.
func (m *Model) followParent(txn *fib.Txn, parent *link, changed []*link) ([]*link, error) {
	for _, c := range m.vlanChildren(parent) {
		n := c.clone()
		if n.mtu > parent.mtu {
			n.mtu = parent.mtu
		}
		if n.up != parent.up {
			if err := m.setLinkUp(txn, n, parent.up); err != nil {
				return nil, err
			}
		}
		if err := m.mtuChanged(txn, n, c.mtu); err != nil {
			return nil, err
		}
		changed = append(changed, n)
		var err error
		if changed, err = m.followParent(txn, n, changed); err != nil {
			return nil, err
		}
	}
	return changed, nil
}

// vlanDevices links the VLAN devices of a snapshot being built to the
// devices below them, in both directions (the engine then gives each the
// offloads of the device its stack ends on).
func vlanDevices(links map[uint32]*link, devs []*dataplane.Device) {
	for i, l := range links {
		if l.vlan == nil || devs[l.vlan.parent] == nil {
			continue
		}
		d, parent := devs[i], devs[l.vlan.parent]
		d.VLAN = &dataplane.VLANDev{Parent: parent, VID: l.vlan.vid, TPID: l.vlan.tpid}
		if parent.VLANs == nil {
			parent.VLANs = map[uint32]*dataplane.Device{}
		}
		parent.VLANs[dataplane.VLANKey(l.vlan.tpid, l.vlan.vid)] = d
	}
}

// vlanShow fills the show record of a VLAN link.
func (m *Model) vlanShow(l *link, al *api.Link) {
	if l.vlan == nil {
		return
	}
	if p := m.links[l.vlan.parent]; p != nil {
		al.Link = p.name
	}
	al.VLAN = &api.VLAN{ID: l.vlan.vid, Protocol: vlanProtocolName(l.vlan.tpid)}
}
