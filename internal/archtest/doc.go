// Package archtest checks that the package layout still matches the
// architecture: the dependency rules of DESIGN.md are enforced with
// `go list -deps`, so a shortcut through the layers fails the build's
// tests rather than a reviewer's eye.
//
//	hdr, pkt           ─► standard library only
//	fib, neigh, gso,   ─► never dataplane, port/*, control, api
//	tunnel, fdb, reasm
//	dataplane          ─► port (the interface), never a concrete port
//	cmd/fpctl          ─► api only (no internal package)
//	x/sys/unix         ─► imported by internal/sys alone
package archtest
