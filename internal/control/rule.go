package control

import (
	"fmt"
	"net/netip"
	"slices"

	"flowpath/api"
	"flowpath/internal/errs"
	"flowpath/internal/fib"
)

var ruleActions = map[string]fib.RuleAction{"": fib.RuleToTable, "lookup": fib.RuleToTable, "table": fib.RuleToTable,
	"blackhole": fib.RuleBlackhole, "unreachable": fib.RuleUnreachable, "prohibit": fib.RuleProhibit, "nop": fib.RuleNop,
	"goto": fib.RuleGoto}

func parseSelector(s string, family int) (netip.Prefix, error) {
	if s == "" || s == "all" {
		return netip.Prefix{}, nil
	}
	p, err := parseDst(s, family)
	if err != nil {
		return netip.Prefix{}, err
	}
	return p, nil
}

func ruleFamily(a *api.Rule) int {
	if a.Family == 4 || a.Family == 6 {
		return a.Family
	}
	for _, s := range []string{a.From, a.To} {
		if p, err := parseIfPrefix(s); err == nil && !p.Addr().Is4() {
			return 6
		}
	}
	return 4
}

func (m *Model) ruleAdd(a *api.Rule) error {
	family := ruleFamily(a)
	act, ok := ruleActions[a.Action]
	if !ok {
		return fmt.Errorf("rule action %q: %w", a.Action, errs.ErrInvalid)
	}
	r := fib.Rule{Priority: a.Priority, AutoPriority: !a.SetPriority, Family: family, IIF: a.Iif, OIF: a.Oif,
		FwMark: a.FwMark, FwMask: a.FwMask, TunID: a.TunID, Invert: a.Not, Action: act, Table: a.Table}
	switch {
	case act == fib.RuleGoto && a.Goto == 0:
		// FRA_GOTO is required with FR_ACT_GOTO.
		return fmt.Errorf("goto rule without a target: %w", errs.ErrInvalid)
	case act == fib.RuleGoto:
		r.Goto = a.Goto
	case a.Goto != 0:
		return fmt.Errorf("goto %d with action %s: %w", a.Goto, a.Action, errs.ErrInvalid)
	}
	var err error
	if r.Src, err = parseSelector(a.From, family); err != nil {
		return err
	}
	if r.Dst, err = parseSelector(a.To, family); err != nil {
		return err
	}
	if act == fib.RuleToTable && r.Table == 0 {
		r.Table = fib.TableMain
	}
	if act != fib.RuleToTable && a.Table != 0 {
		return fmt.Errorf("rule with action %s cannot have a table: %w", a.Action, errs.ErrInvalid)
	}
	for _, l := range m.links {
		if l.name == r.IIF {
			r.IIFIndex = l.index
		}
		if l.name == r.OIF {
			r.OIFIndex = l.index
		}
	}
	txn := m.fib.Begin()
	if err := txn.AddRule(r); err != nil {
		return err
	}
	m.fib = txn.Commit()
	m.publish()
	return nil
}

func (m *Model) ruleDel(a *api.Rule) error {
	family := ruleFamily(a)
	rm := fib.RuleMatch{Family: family, Priority: a.Priority, SetPriority: a.SetPriority, IIF: a.Iif, OIF: a.Oif,
		TunID: a.TunID, Table: a.Table}
	if a.FwMark != 0 {
		rm.FwMark, rm.SetFwMark = a.FwMark, true
	}
	if a.FwMask != 0 {
		rm.FwMask, rm.SetFwMask = a.FwMask, true
	}
	if a.Action != "" {
		act, ok := ruleActions[a.Action]
		if !ok {
			return fmt.Errorf("rule action %q: %w", a.Action, errs.ErrInvalid)
		}
		rm.Action, rm.SetAction = act, true
	}
	var err error
	if rm.Src, err = parseSelector(a.From, family); err != nil {
		return err
	}
	if rm.Dst, err = parseSelector(a.To, family); err != nil {
		return err
	}
	txn := m.fib.Begin()
	if err := txn.DelRule(rm); err != nil {
		return err
	}
	m.fib = txn.Commit()
	m.publish()
	return nil
}

func (m *Model) ruleShow(f *api.Filter) (*api.Response, error) {
	family := 4
	if f != nil && f.Family == 6 {
		family = 6
	}
	var out []api.Rule
	rules := m.fib.Rules(family)
	for _, r := range rules {
		a := api.Rule{Family: family, Priority: r.Priority, SetPriority: true, Not: r.Invert, Iif: r.IIF, Oif: r.OIF,
			FwMark: r.FwMark, FwMask: r.FwMask, TunID: r.TunID, Action: r.Action.String(), Table: r.Table,
			IifDetached: r.IIF != "" && r.IIFIndex == 0 && r.IIF != "lo", OifDetached: r.OIF != "" && r.OIFIndex == 0}
		if r.Src.IsValid() && r.Src.Bits() > 0 {
			a.From = r.Src.String()
		}
		if r.Dst.IsValid() && r.Dst.Bits() > 0 {
			a.To = r.Dst.String()
		}
		if r.Action != fib.RuleToTable {
			a.Table = 0
		}
		if r.Action == fib.RuleGoto {
			a.Goto = r.Goto
			a.Unresolved = !slices.ContainsFunc(rules, func(x fib.Rule) bool { return x.Priority == r.Goto })
		}
		out = append(out, a)
	}
	return &api.Response{Rules: out}, nil
}
