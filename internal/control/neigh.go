package control

import (
	"fmt"
	"net/netip"

	"flowpath/api"
	"flowpath/internal/errs"
	"flowpath/internal/hdr"
	"flowpath/internal/neigh"
)

// neighChange runs ip neigh add|replace|change|del.
func (m *Model) neighChange(op string, a *api.Neigh) error {
	l, err := m.linkByName(a.Dev)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddr(a.Dst)
	if err != nil || addr.Zone() != "" || addr.IsUnspecified() || addr.IsMulticast() {
		return fmt.Errorf("neighbour %q: %w", a.Dst, errs.ErrInvalid)
	}
	if l.loopback {
		return fmt.Errorf("neighbour %s dev %s: loopback has no neighbours: %w", addr, l.name, errs.ErrInvalid)
	}
	t := m.e.Neigh()
	if op == api.OpNeighDel {
		return t.Del(l.index, addr)
	}
	e := neigh.Entry{Dev: l.index, Addr: addr, State: neigh.Permanent, Router: a.Router}
	if a.State != "" {
		if e.State, err = neigh.ParseState(a.State); err != nil {
			return err
		}
	}
	var flags neigh.AddFlags
	switch op {
	case api.OpNeighAdd:
		flags = neigh.AddCreate | neigh.AddExcl
	case api.OpNeighReplace:
		flags = neigh.AddCreate | neigh.AddReplace
	case api.OpNeighChange:
		flags = neigh.AddReplace
	}
	if a.LLAddr != "" {
		mac, err := hdr.ParseMAC(a.LLAddr)
		if err != nil {
			return fmt.Errorf("lladdr %q: %w", a.LLAddr, errs.ErrInvalid)
		}
		e.MAC = mac
	} else {
		flags |= neigh.AddNoLLAddr
	}
	return t.Add(e, flags)
}

func (m *Model) neighSelect(f *api.Filter) (dev uint32, family int, state neigh.State, err error) {
	if f == nil {
		return 0, 0, 0, nil
	}
	if f.Dev != "" {
		l, err := m.linkByName(f.Dev)
		if err != nil {
			return 0, 0, 0, err
		}
		dev = l.index
	}
	if f.State != "" {
		if state, err = neigh.ParseState(f.State); err != nil {
			return 0, 0, 0, err
		}
	}
	return dev, f.Family, state, nil
}

func neighMatches(e neigh.Entry, dev uint32, family int, state neigh.State) bool {
	if dev != 0 && e.Dev != dev {
		return false
	}
	if family == 4 && !e.Addr.Is4() || family == 6 && e.Addr.Is4() {
		return false
	}
	return state == 0 || e.State&state != 0
}

func (m *Model) neighShow(f *api.Filter) (*api.Response, error) {
	dev, family, state, err := m.neighSelect(f)
	if err != nil {
		return nil, err
	}
	var out []api.Neigh
	m.e.Neigh().Dump(func(e neigh.Entry) bool {
		if !neighMatches(e, dev, family, state) {
			return true
		}
		n := api.Neigh{Dev: m.devName(e.Dev), Dst: e.Addr.String(), State: e.State.String(), Router: e.Router}
		if e.State.Valid() || e.State == neigh.Failed && e.MAC != ([6]byte{}) {
			n.LLAddr = macString(e.MAC)
		}
		out = append(out, n)
		return true
	})
	return &api.Response{Neighs: out}, nil
}

// neighFlush removes matching dynamic entries (ip neigh flush never
// removes permanent or noarp ones).
func (m *Model) neighFlush(f *api.Filter) error {
	dev, family, state, err := m.neighSelect(f)
	if err != nil {
		return err
	}
	m.e.Neigh().Flush(func(e neigh.Entry) bool {
		return neighMatches(e, dev, family, state) && e.State&(neigh.Permanent|neigh.NoARP) == 0
	})
	return nil
}

func (m *Model) neighStats() map[string]uint64 {
	s := m.e.Neigh().Stats()
	return map[string]uint64{
		"entries": uint64(s.Entries), "allocs": s.Allocs, "destroys": s.Destroys,
		"res_failed": s.ResFailed, "periodic_gc_runs": s.GCRuns, "forced_gc_runs": s.ForcedGCRuns,
		"table_fulls": s.TableFulls, "unresolved_discards": s.UnresolvedDiscards,
		"ucast_probes": s.UcastProbes, "mcast_probes": s.McastProbes, "event_drops": s.EventDrops,
	}
}
