package main

// Printers for tunnels: the vxlan and geneve lines of ip -d link, bridge
// fdb show, a route's encapsulation and an MPLS route's "as to" labels,
// each in iproute2 6.1's words and order, trailing spaces included.

import (
	"fmt"
	"strconv"
	"strings"

	"flowpath/api"
)

// formatVXLAN is ip -d link's vxlan line (without its indentation).
func formatVXLAN(v *api.VXLAN) string {
	var b strings.Builder
	b.WriteString("vxlan ")
	if v.External {
		b.WriteString("external ")
	}
	fmt.Fprintf(&b, "id %d ", v.VNI)
	switch {
	case v.Group != "":
		b.WriteString("group " + v.Group + " ")
	case v.Remote != "":
		b.WriteString("remote " + v.Remote + " ")
	}
	if v.Local != "" {
		b.WriteString("local " + v.Local + " ")
	}
	if v.Dev != "" {
		b.WriteString("dev " + v.Dev + " ")
	}
	fmt.Fprintf(&b, "srcport %d %d ", v.SrcPortMin, v.SrcPortMax)
	port := v.DstPort
	if port == 0 {
		port = 8472 // the kernel's default, with or without "dstport 0"
	}
	fmt.Fprintf(&b, "dstport %d ", port)
	if v.External || (v.Learning != nil && !*v.Learning) {
		b.WriteString("nolearning ")
	}
	writeTOS(&b, v.TOS)
	writeTTL(&b, v.TTL, v.TTLInherit)
	ageing := v.Ageing
	if ageing == 0 {
		ageing = 300
	}
	fmt.Fprintf(&b, "ageing %d ", ageing)
	if v.MaxAddress != 0 {
		fmt.Fprintf(&b, "maxaddr %d ", v.MaxAddress)
	}
	if v.UDPCsum != nil && !*v.UDPCsum {
		b.WriteString("no")
	}
	b.WriteString("udpcsum noudp6zerocsumtx noudp6zerocsumrx ")
	if v.GBP {
		b.WriteString("gbp ")
	}
	return b.String()
}

// writeTOS prints a tunnel TOS: nothing for 0, "inherit" for 1, else hex.
func writeTOS(b *strings.Builder, tos uint8) {
	switch tos {
	case 0:
	case 1:
		b.WriteString("tos inherit ")
	default:
		fmt.Fprintf(b, "tos %#x ", tos)
	}
}

// writeTTL prints a tunnel TTL: "inherit", "auto" for 0, else the number.
func writeTTL(b *strings.Builder, ttl uint8, inherit bool) {
	switch {
	case inherit:
		b.WriteString("ttl inherit ")
	case ttl == 0:
		b.WriteString("ttl auto ")
	default:
		fmt.Fprintf(b, "ttl %d ", ttl)
	}
}

// formatGeneve is ip -d link's geneve line (without its indentation). The
// IPv6 checksum words are what the kernel reports for flowpath's settings:
// zero checksums on transmit exactly when udpcsum is off, accepted on
// receive.
func formatGeneve(g *api.Geneve) string {
	var b strings.Builder
	b.WriteString("geneve ")
	if g.External {
		b.WriteString("external ")
	}
	fmt.Fprintf(&b, "id %d ", g.VNI)
	if g.Remote != "" {
		b.WriteString("remote " + g.Remote + " ")
	}
	writeTTL(&b, g.TTL, g.TTLInherit)
	writeTOS(&b, g.TOS)
	if g.Label != 0 {
		fmt.Fprintf(&b, "flowlabel %#x ", g.Label)
	}
	port := g.DstPort
	if port == 0 {
		port = 6081
	}
	fmt.Fprintf(&b, "dstport %d ", port)
	if g.UDPCsum {
		b.WriteString("udpcsum noudp6zerocsumtx ")
	} else {
		b.WriteString("noudpcsum udp6zerocsumtx ")
	}
	b.WriteString("udp6zerocsumrx ")
	return b.String()
}

// FormatFDB prints one entry as bridge fdb show does for a VXLAN device
// (without the device when the show was for one). A learned entry's
// state prints as nothing, as bridge prints NUD_REACHABLE.
func FormatFDB(e *api.FDB, f *api.Filter) string {
	var b strings.Builder
	b.WriteString(e.MAC + " ")
	if f == nil || f.Dev == "" {
		b.WriteString("dev " + e.Dev + " ")
	}
	if e.Dst != "" {
		b.WriteString("dst " + e.Dst + " ")
	}
	if e.Port != 0 {
		fmt.Fprintf(&b, "port %d ", e.Port)
	}
	if e.SetVNI {
		fmt.Fprintf(&b, "vni %d ", e.VNI)
	}
	if e.Via != "" {
		b.WriteString("via " + e.Via + " ")
	}
	b.WriteString("self ")
	switch e.State {
	case "", "permanent":
		if !e.Learned || e.State == "permanent" {
			b.WriteString("permanent")
		}
	case "dynamic", "reachable":
	default:
		b.WriteString(e.State)
	}
	b.WriteString("\n")
	return b.String()
}

// labelStack prints labels as iproute2 does: "200/300".
func labelStack(labels []uint32) string {
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = strconv.FormatUint(uint64(l), 10)
	}
	return strings.Join(parts, "/")
}

// formatEncap is lwt_print_encap: " encap TYPE " and the type's words.
// The kernel reports every field of an ip/ip6 encapsulation, so each is
// printed (zero addresses included); geneve_opts and vxlan_opts go on a
// line of their own, as ip puts them.
func formatEncap(e *api.Encap) string {
	if e == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString(" encap " + e.Type + " ")
	switch e.Type {
	case "mpls":
		b.WriteString(" " + labelStack(e.Labels) + " ")
		if e.SetTTL || e.TTL != 0 {
			fmt.Fprintf(&b, "ttl %d ", e.TTL)
		}
	case "ip", "ip6":
		src, dst := e.Src, e.Dst
		zero := "0.0.0.0"
		ttlWord, tosWord := "ttl", "tos"
		if e.Type == "ip6" {
			zero, ttlWord, tosWord = "::", "hoplimit", "tc"
		}
		if src == "" {
			src = zero
		}
		if dst == "" {
			dst = zero
		}
		fmt.Fprintf(&b, "id %d src %s dst %s %s %d %s %d ", e.ID, src, dst, ttlWord, e.TTL, tosWord, e.TOS)
		for _, f := range []string{"key", "csum", "seq"} {
			for _, g := range e.Flags {
				if g == f {
					b.WriteString(f + " ")
					break
				}
			}
		}
		switch {
		case e.GeneveOpts != "":
			b.WriteString("\n\tgeneve_opts " + e.GeneveOpts + " ")
		case e.SetVXLANOpts || e.VXLANOpts != 0:
			fmt.Fprintf(&b, "\n\tvxlan_opts %d ", e.VXLANOpts)
		}
	}
	return b.String()
}

// asTo is print_rta_newdst: an MPLS route's outgoing labels.
func asTo(labels []uint32) string {
	if len(labels) == 0 {
		return ""
	}
	return "as to " + labelStack(labels) + " "
}
