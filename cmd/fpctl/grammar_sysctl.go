package main

import (
	"strings"

	"flowpath/api"
)

// buildSysctl reads procps sysctl's arguments for the daemon's tunables:
// "[-a]" lists them, "NAME" shows one, "[-w] NAME=VALUE" sets one. Names
// take dots or slashes, as sysctl's do.
func buildSysctl(argv []string) (*api.Request, error) {
	write := false
	var names []string
	for _, a := range argv {
		switch a {
		case "-w", "--write":
			write = true
		case "-a", "-A", "--all":
		case "-q", "--quiet", "-n", "-N", "-e":
			return nil, notSupported(a)
		default:
			if strings.HasPrefix(a, "-") {
				return nil, errf(255, "sysctl: unknown option %q", a)
			}
			names = append(names, a)
		}
	}
	if len(names) > 1 {
		return nil, errf(255, "fpctl sysctl takes one setting at a time, not %q", strings.Join(names, " "))
	}
	if len(names) == 0 {
		if write {
			return nil, errf(255, "sysctl: no variables specified")
		}
		return &api.Request{Op: api.OpSysctlShow}, nil
	}
	name, value, isSet := strings.Cut(names[0], "=")
	name = strings.TrimSpace(name)
	if write && !isSet {
		return nil, errf(255, "sysctl: %q must be of the form name=value", names[0])
	}
	if name == "" {
		return nil, errf(255, "sysctl: malformed setting %q", names[0])
	}
	if isSet {
		return &api.Request{Op: api.OpSysctlSet, Sysctl: &api.Sysctl{Name: name, Value: strings.TrimSpace(value)}}, nil
	}
	return &api.Request{Op: api.OpSysctlShow, Sysctl: &api.Sysctl{Name: name}}, nil
}
