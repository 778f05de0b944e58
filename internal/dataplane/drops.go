package dataplane

// DropReason says why a packet was dropped. Every drop on the packet path
// is counted under exactly one reason.
type DropReason uint8

const (
	DropNone DropReason = iota
	DropL2Invalid
	DropOtherHost
	DropVLAN
	DropUnknownEtherType
	DropInputDown
	DropARPInvalid
	DropARPIgnored
	DropIPv4Invalid
	DropIPv4Checksum
	DropIPv6Invalid
	DropIPv6ExtHeader
	DropMartianSource
	DropMartianDest
	DropMulticast
	DropBroadcast
	DropLinkLocalScope
	DropNoRoute
	DropBlackhole
	DropUnreachable
	DropProhibit
	DropTTLExceeded
	DropFragNeeded
	DropPacketTooBig
	DropFragFailed
	DropGSOFailed
	DropNeighFailed
	DropNeighQueueFull
	DropNeighTimeout
	DropOutDown
	DropNoCarrier
	DropPoolEmpty
	DropTxFailed
	DropLocalUnhandled
	DropReasmInvalid
	DropReasmOverlap
	DropReasmTooBig
	DropReasmFull
	DropReasmTimeout
	DropICMPInvalid
	DropNDInvalid
	DropTunnelHeader
	DropTunnelUnknownVNI
	DropTunnelDown
	DropTunnelOwnMAC
	DropTunnelECN
	DropTunnelNoMetadata
	DropTunnelBadOptions
	DropTunnelLoop
	DropTunnelNoRoute
	DropTunnelEncap
	DropFDBMiss
	DropFDBStatic
	DropMPLSInvalid
	DropMPLSNoRoute
	DropMPLSTTL
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropNone:             "none",
	DropL2Invalid:        "l2_invalid",
	DropOtherHost:        "other_host",
	DropVLAN:             "vlan_unknown",
	DropUnknownEtherType: "unknown_ethertype",
	DropInputDown:        "input_device_down",
	DropARPInvalid:       "arp_invalid",
	DropARPIgnored:       "arp_not_for_us",
	DropIPv4Invalid:      "ipv4_header_invalid",
	DropIPv4Checksum:     "ipv4_checksum",
	DropIPv6Invalid:      "ipv6_header_invalid",
	DropIPv6ExtHeader:    "ipv6_ext_header_invalid",
	DropMartianSource:    "martian_source",
	DropMartianDest:      "martian_destination",
	DropMulticast:        "multicast_unsupported",
	DropBroadcast:        "broadcast",
	DropLinkLocalScope:   "link_local_not_forwarded",
	DropNoRoute:          "no_route",
	DropBlackhole:        "blackhole",
	DropUnreachable:      "unreachable_route",
	DropProhibit:         "prohibit_route",
	DropTTLExceeded:      "ttl_exceeded",
	DropFragNeeded:       "frag_needed",
	DropPacketTooBig:     "packet_too_big",
	DropFragFailed:       "fragmentation_failed",
	DropGSOFailed:        "gso_segmentation_failed",
	DropNeighFailed:      "neighbour_failed",
	DropNeighQueueFull:   "neighbour_queue_full",
	DropNeighTimeout:     "neighbour_timeout",
	DropOutDown:          "output_device_down",
	DropNoCarrier:        "no_port",
	DropPoolEmpty:        "pool_exhausted",
	DropTxFailed:         "tx_failed",
	DropLocalUnhandled:   "local_no_service",
	DropReasmInvalid:     "reasm_invalid",
	DropReasmOverlap:     "reasm_overlap",
	DropReasmTooBig:      "reasm_oversize",
	DropReasmFull:        "reasm_table_full",
	DropReasmTimeout:     "reasm_timeout", // datagrams discarded after net.ipv4.ipfrag_time / net.ipv6.ip6frag_time
	DropICMPInvalid:      "icmp_invalid",
	DropNDInvalid:        "nd_invalid",
	DropTunnelHeader:     "tunnel_header_invalid",
	DropTunnelUnknownVNI: "tunnel_unknown_vni",
	DropTunnelDown:       "tunnel_device_down",
	DropTunnelOwnMAC:     "tunnel_own_source_mac",
	DropTunnelECN:        "tunnel_ecn_frame_error", // the kernel's rx_frame_errors
	DropTunnelNoMetadata: "tunnel_no_tx_metadata",
	DropTunnelBadOptions: "tunnel_bad_options",
	DropTunnelLoop:       "tunnel_loop_collisions",  // the kernel's collisions (ELOOP)
	DropTunnelNoRoute:    "tunnel_no_route_carrier", // the kernel's tx_carrier_errors
	DropTunnelEncap:      "tunnel_encap_failed",
	DropFDBMiss:          "fdb_miss",
	DropFDBStatic:        "fdb_static_mismatch",
	DropMPLSInvalid:      "mpls_invalid",
	DropMPLSNoRoute:      "mpls_no_route",
	DropMPLSTTL:          "mpls_ttl_exceeded",
}

// String is the reason's counter name.
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// DropReasons lists every reason, for stats output.
func DropReasons() []DropReason {
	out := make([]DropReason, 0, numDropReasons-1)
	for r := DropReason(1); r < numDropReasons; r++ {
		out = append(out, r)
	}
	return out
}
