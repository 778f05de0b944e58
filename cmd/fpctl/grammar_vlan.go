package main

import (
	"fmt"
	"strings"

	"flowpath/api"
)

// parseVLAN reads the vlan arguments of link add, as iproute2's
// vlan_parse_opt: "protocol {802.1Q|802.1ad}", "id VID",
// "reorder_hdr on" (the only behaviour flowpath has). A missing id is the
// kernel's to refuse (EINVAL), as with ip.
func parseVLAN(l *api.Link, p *args) error {
	var (
		id                    uint64
		proto                 string
		gotID, gotP, gotReord bool
	)
	for ; p.more(); p.i++ {
		a := p.cur()
		switch {
		case matches(a, "protocol"):
			err := p.once("protocol", &gotP, func(v string) error {
				switch strings.ToLower(v) {
				case "802.1q", "0x8100":
					proto = "802.1Q"
				case "802.1ad", "0x88a8":
					proto = "802.1ad"
				default:
					n, ok := parseUint(v, 16)
					if !ok || !strings.HasPrefix(v, "0x") {
						return invarg("protocol is invalid", v)
					}
					proto = fmt.Sprintf("0x%04x", n) // the daemon refuses it, as the kernel does
				}
				return nil
			})
			if err != nil {
				return err
			}
		case matches(a, "id"):
			err := p.once("id", &gotID, func(v string) error {
				n, ok := parseUint(v, 16)
				if !ok {
					return invarg("id is invalid", v)
				}
				id = n
				return nil
			})
			if err != nil {
				return err
			}
		case matches(a, "reorder_hdr"):
			err := p.once("reorder_hdr", &gotReord, func(v string) error {
				switch v {
				case "on":
					return nil
				case "off":
					return notSupported("reorder_hdr off")
				}
				return errf(255, "Error: argument of %q must be \"on\" or \"off\", not %q", "reorder_hdr", v)
			})
			if err != nil {
				return err
			}
		case a == "gvrp", a == "mvrp", a == "loose_binding", a == "bridge_binding",
			a == "ingress-qos-map", a == "egress-qos-map":
			return notSupported(a)
		case matches(a, "help"):
			return usageError("vlan")
		default:
			return errf(1, "vlan: unknown command %q?", a)
		}
	}
	if gotID {
		l.VLAN = &api.VLAN{ID: uint16(id), Protocol: proto}
	}
	return nil
}
