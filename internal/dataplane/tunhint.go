package dataplane

import (
	"net/netip"
	"sync/atomic"
	"unsafe"

	"flowpath/internal/pkt"
)

// tunnelHints remembers, per neighbour behind a flow-based tunnel device,
// the TX metadata of the latest packet that had to wait for it. The
// neighbour manager's solicitations (retransmissions, re-probes) carry it,
// as the kernel's arp_solicit / ndisc_solicit send with the dst of the
// packet at the tail of the neighbour's queue: a flow-based device drops
// frames without metadata, so without it only the first solicitation (sent
// by the worker itself) would ever leave.
//
// Workers write, the manager goroutine reads; neither locks. Each slot is
// a sequence lock over words read and written atomically:
//
//	slot: seq │ dev │ addr(16) │ is4 │ TunnelInfo bytes ...
//	      even = stable, odd = being written
//
// A writer takes a slot by moving seq from even to odd with a CAS; if
// another worker holds it, the write is skipped (that worker is writing
// fresher metadata anyway). A reader copies the words and keeps the copy
// only if seq was even and unchanged around it. Slots are chosen by a hash
// of (device, address); a colliding neighbour overwrites the hint, and the
// lost neighbour's next solicitation goes out without metadata and is
// dropped by the device, counted, as the kernel's does when its queue is
// empty. Nothing allocates after newTunnelHints.
type tunnelHints struct {
	slots []hintSlot
	mask  uint64
}

const (
	tunnelHintSlots = 256
	hintInfoWords   = (int(unsafe.Sizeof(pkt.TunnelInfo{})) + 7) / 8
	hintKeyWords    = 3 // dev+is4, addr[0:8], addr[8:16]
)

// TunnelInfo is viewed as whole words; this fails to compile if its size
// stops being a multiple of 8.
var _ [0]struct{} = [unsafe.Sizeof(pkt.TunnelInfo{}) % 8]struct{}{}

type hintSlot struct {
	seq   atomic.Uint64
	words [hintKeyWords + hintInfoWords]atomic.Uint64
}

func newTunnelHints() *tunnelHints {
	return &tunnelHints{slots: make([]hintSlot, tunnelHintSlots), mask: tunnelHintSlots - 1}
}

// hintKey packs (dev, addr) into the slot's key words.
func hintKey(dev uint32, addr netip.Addr) (k [hintKeyWords]uint64) {
	a := addr.As16()
	k[0] = uint64(dev) << 1
	if addr.Is4() {
		k[0] |= 1
	}
	for i := 0; i < 8; i++ {
		k[1] |= uint64(a[i]) << (8 * i)
		k[2] |= uint64(a[8+i]) << (8 * i)
	}
	return k
}

func (h *tunnelHints) slot(k *[hintKeyWords]uint64) *hintSlot {
	x := k[0]*0x9e3779b97f4a7c15 ^ k[1]*0xc2b2ae3d27d4eb4f ^ k[2]*0x165667b19e3779f9
	x ^= x >> 29
	return &h.slots[x&h.mask]
}

// infoWords views a TunnelInfo as words. TunnelInfo holds only integers
// and byte arrays, so every bit pattern is a valid value.
func infoWords(t *pkt.TunnelInfo) *[hintInfoWords]uint64 {
	return (*[hintInfoWords]uint64)(unsafe.Pointer(t))
}

// put records info as the hint for (dev, addr). Only the bytes of
// info's options that are in use are meaningful to a reader.
func (h *tunnelHints) put(dev uint32, addr netip.Addr, info *pkt.TunnelInfo) {
	k := hintKey(dev, addr)
	s := h.slot(&k)
	seq := s.seq.Load()
	if seq&1 != 0 || !s.seq.CompareAndSwap(seq, seq+1) {
		return
	}
	for i, w := range k {
		s.words[i].Store(w)
	}
	var tmp pkt.TunnelInfo // whole words: the tail padding of TunnelInfo too
	tmp.Key, tmp.Mode, tmp.OptLen = info.Key, info.Mode, info.OptLen
	copy(tmp.Opts[:], info.Options())
	for i, w := range infoWords(&tmp) {
		s.words[hintKeyWords+i].Store(w)
	}
	s.seq.Store(seq + 2)
}

// get copies the hint for (dev, addr) into out and reports whether there
// was one.
func (h *tunnelHints) get(dev uint32, addr netip.Addr, out *pkt.TunnelInfo) bool {
	k := hintKey(dev, addr)
	s := h.slot(&k)
	var tmp pkt.TunnelInfo
	words := infoWords(&tmp)
	for try := 0; try < 4; try++ {
		seq := s.seq.Load()
		if seq == 0 {
			return false // never written
		}
		if seq&1 != 0 {
			continue
		}
		match := true
		for i, w := range k {
			if s.words[i].Load() != w {
				match = false
			}
		}
		for i := range words {
			words[i] = s.words[hintKeyWords+i].Load()
		}
		if s.seq.Load() != seq {
			continue
		}
		if !match {
			return false
		}
		*out = tmp
		return true
	}
	return false
}
