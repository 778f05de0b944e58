package control

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"flowpath/api"
	"flowpath/internal/errs"
)

// sysctls are the kernel tunables flowpath reproduces, with the kernel's
// names, ranges and defaults. They live in the model and reach the packet
// path through the snapshot, so a change applies to whole batches.
type sysctls struct {
	mplsTTLPropagate bool  // net.mpls.ip_ttl_propagate (1)
	mplsDefaultTTL   uint8 // net.mpls.default_ttl (255)
	// keepAddrOnDown is net.ipv6.conf.all.keep_addr_on_down (0): > 0
	// keeps a link's IPv6 addresses when it goes down, else they go.
	keepAddrOnDown int
	// promoteSecondaries is net.ipv4.conf.all.promote_secondaries (0):
	// when not 0, deleting a primary IPv4 address makes its first
	// secondary the primary instead of deleting the secondaries too.
	// Any int is taken, as devinet's proc_dointvec does.
	promoteSecondaries int
}

func defaultSysctls() sysctls { return sysctls{mplsTTLPropagate: true, mplsDefaultTTL: 255} }

// sysctlEntry reads and writes one tunable; set validates like the
// kernel's proc handler (proc_dointvec_minmax: EINVAL out of range).
type sysctlEntry struct {
	name string
	get  func(m *Model) int
	set  func(m *Model, v int) error
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func minmax(v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d not in %d..%d: %w", v, lo, hi, errs.ErrInvalid)
	}
	return nil
}

var sysctlTable = []sysctlEntry{
	{"net.ipv4.fib_multipath_hash_policy",
		func(m *Model) int { return boolInt(m.hashL4) },
		func(m *Model, v int) error {
			if err := minmax(v, 0, 3); err != nil {
				return err
			}
			if v > 1 {
				return fmt.Errorf("policy %d (inner headers): flowpath hashes L3 (0) or L4 (1): %w", v, errs.ErrNotSupported)
			}
			m.hashL4 = v == 1
			return nil
		}},
	intSysctl("net.ipv4.conf.all.promote_secondaries", func(m *Model) *int { return &m.sys.promoteSecondaries }),
	intSysctl("net.ipv6.conf.all.keep_addr_on_down", func(m *Model) *int { return &m.sys.keepAddrOnDown }),
	{"net.mpls.default_ttl",
		func(m *Model) int { return int(m.sys.mplsDefaultTTL) },
		func(m *Model, v int) error {
			if err := minmax(v, 1, 255); err != nil {
				return err
			}
			m.sys.mplsDefaultTTL = uint8(v)
			return nil
		}},
	boolSysctl("net.mpls.ip_ttl_propagate", func(m *Model) *bool { return &m.sys.mplsTTLPropagate }),
}

// intSysctl is a tunable that takes any C int (proc_dointvec), kept in
// the int field points at.
func intSysctl(name string, field func(m *Model) *int) sysctlEntry {
	return sysctlEntry{name,
		func(m *Model) int { return *field(m) },
		func(m *Model, v int) error {
			if err := minmax(v, math.MinInt32, math.MaxInt32); err != nil {
				return err
			}
			*field(m) = v
			return nil
		}}
}

// boolSysctl is a 0/1 tunable kept in the bool field points at.
func boolSysctl(name string, field func(m *Model) *bool) sysctlEntry {
	return sysctlEntry{name,
		func(m *Model) int { return boolInt(*field(m)) },
		func(m *Model, v int) error {
			if err := minmax(v, 0, 1); err != nil {
				return err
			}
			*field(m) = v == 1
			return nil
		}}
}

// sysctlName accepts the dotted name or the /proc/sys path form.
func sysctlName(n string) string {
	n = strings.TrimPrefix(n, "/proc/sys/")
	return strings.ReplaceAll(n, "/", ".")
}

func findSysctl(name string) (*sysctlEntry, error) {
	name = sysctlName(name)
	for i := range sysctlTable {
		if sysctlTable[i].name == name {
			return &sysctlTable[i], nil
		}
	}
	return nil, fmt.Errorf("cannot stat /proc/sys/%s: %w", strings.ReplaceAll(name, ".", "/"), errs.ErrNoEntry)
}

func (m *Model) sysctlSet(a *api.Sysctl) error {
	e, err := findSysctl(a.Name)
	if err != nil {
		return err
	}
	v, err := strconv.Atoi(strings.TrimSpace(a.Value))
	if err != nil {
		return fmt.Errorf("setting key %q: value %q: %w", e.name, a.Value, errs.ErrInvalid)
	}
	hashL4, sys := m.hashL4, m.sys
	if err := e.set(m, v); err != nil {
		m.hashL4, m.sys = hashL4, sys
		return fmt.Errorf("setting key %q: %w", e.name, err)
	}
	m.publish()
	return nil
}

func (m *Model) sysctlShow(a *api.Sysctl) (*api.Response, error) {
	var out []api.Sysctl
	for i := range sysctlTable {
		e := &sysctlTable[i]
		if a != nil && a.Name != "" {
			if _, err := findSysctl(a.Name); err != nil {
				return nil, err
			}
			if sysctlName(a.Name) != e.name {
				continue
			}
		}
		out = append(out, api.Sysctl{Name: e.name, Value: strconv.Itoa(e.get(m))})
	}
	return &api.Response{Sysctls: out}, nil
}
