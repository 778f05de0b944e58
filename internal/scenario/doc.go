// Package scenario holds end-to-end tests of the whole router without
// root: the control model configures a running engine through the same
// API fpctl uses, memory ports stand in for the wire, and the test plays
// the hosts on either side (ARP/ND, ping, TCP/UDP, GSO super-frames),
// decoding what the router sends with gopacket as an independent decoder.
//
//	test "h1" ──mem──► [ r1 ]── flowpath engine ──[ r2 ] ◄──mem── test "h2"
//
// It has no non-test code besides this comment.
package scenario
