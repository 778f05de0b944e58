// Package tests holds flowpath's root-only integration tests: real
// flowpathd and fpctl binaries, real network namespaces, real kernel peers
// and the real tools people use to judge a router (ping, iperf3, tshark).
//
// The unit tests elsewhere prove the pipeline on memory ports; these prove
// that what flowpathd puts on a wire is what a Linux host expects, and that
// fpctl drives it the way ip drives the kernel.
//
//	fpt-h1-PID                 fpt-r-PID                  fpt-h2-PID
//	10.1.0.1 fd00:1::1                                     10.2.0.1 fd00:2::1
//	  eth0 ─────veth───── r-h1 [ flowpathd ] r-h2 ─────veth───── eth0
//	                       h1: 10.1.0.254    h2: 10.2.0.254
//	                           fd00:1::254       fd00:2::254
//	                                   r-h3 ─────veth───── eth0   fpt-h3-PID
//	                       h3: 10.3.0.254  (ECMP only)      10.3.0.1
//
// With TAP ports flowpathd creates t-hN in the router namespace, the test
// moves each one into its host namespace and renames it eth0, so the rest
// of a test does not care which port type it runs on.
//
// The tunnel tests (tunnel_test.go, topology in tunnel_topo_test.go) build
// their own namespaces: two hosts, two VTEPs (flowpathd or the kernel's
// VXLAN) and a 1550-byte underlay veth between them, or three flowpathd
// in a row for an MPLS label swap. tshark there sees a flowpathd's frames
// only where they arrive: flowpath transmits with PACKET_QDISC_BYPASS,
// which skips the kernel's capture taps on the sending side.
//
// Both topologies embed nsSet (ns_test.go: the namespaces and background
// tools a test made, removed in t.Cleanup, processes ended by PID) and run
// flowpathd as an fpd (fpd_test.go); every tshark is a capture
// (capture_test.go).
//
// The files carry the build tag netns; run them as root with
//
//	go test -count=1 -tags netns ./tests/
//
// Everything is skipped when not root or when a tool is missing.
// FLOWPATH_BIN=DIR uses prebuilt flowpathd and fpctl from DIR instead of
// building them.
package tests
