package dataplane

import (
	"encoding/binary"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
	"flowpath/internal/reasm"
	"flowpath/internal/tunnel"
)

// FuzzTunnelPipeline runs random frames through a router that has a
// flow-based VXLAN device with encap ip routes and an MPLS label route, so
// that tunnel receive (VXLAN demux, metadata, re-entry), tunnel transmit
// and MPLS input meet hostile input. Every packet must end back in the
// pool, and nothing may panic.
func FuzzTunnelPipeline(f *testing.F) {
	mplsFrame := func(label uint32, ttl uint8, inner []byte) []byte {
		b := append([]byte(nil), inner[:hdr.EthernetLen]...)
		binary.BigEndian.PutUint16(b[12:], hdr.EtherTypeMPLS)
		var lse [4]byte
		binary.BigEndian.PutUint32(lse[:], label<<12|1<<8|uint32(ttl))
		b = append(b, lse[:]...)
		return append(b, inner[hdr.EthernetLen:]...)
	}
	plain := udp4Frame(ipH1, ipH2, 64, true, 1000, 53, 22)
	f.Add(vxlanDecapFrame(42, ipH1, 5), uint8(0))
	f.Add(vxlanDecapFrame(1, ipH1, 6), uint8(1))
	f.Add(udp4Frame(ipH1, encBase, 64, true, 1000, 53, 22), uint8(0))
	f.Add(mplsFrame(100, 64, plain), uint8(0))
	f.Add(mplsFrame(100, 1, plain), uint8(0))
	f.Add(mplsFrame(0, 9, plain), uint8(0))
	f.Add(mplsFrame(555, 9, plain), uint8(0))
	r := vxlanRig(f, rigOpts{}, 1)
	s := *r.e.Snapshot()
	s.MPLS = map[uint32]*LabelRoute{100: {Label: 100, Nexthops: []LabelNexthop{{Via: ipH2, Dev: devR2, As: []uint32{200, 300},
		Payload: tunnel.PayloadIPv4}}}}
	r.e.Publish(&s)
	r.w.snap = r.e.Snapshot()
	now := int64(0)
	f.Fuzz(func(t *testing.T, frame []byte, flags uint8) {
		if len(frame) >= hdr.EthernetLen && flags&1 != 0 {
			copy(frame, macR1[:])
		}
		w := r.w
		now += 10e9
		w.now = now
		r.batch[0] = r.packet(t, frame, pkt.GSO{})
		w.processBatch(r.batch[:1])
		w.flush()
		r.drainPeers()
		w.resolvePending(now)
		w.flush()
		w.resolvePending(now + w.pending.MaxWait)
		w.flush()
		r.drainPeers()
		r.stopDrain()
		r.drainPeers()
		if w.pending.Len() != 0 {
			t.Fatalf("%d packets still pending", w.pending.Len())
		}
		// Fragments to us wait for the rest of their datagram until the
		// reassembly timeout, which the worker loop enforces.
		w.reasm.Expire(now+int64(reasm.DefaultTimeout6)+1, nil)
		if av, sz := w.pool.Available(), w.pool.Size(); av != sz {
			t.Fatalf("%d of %d packets not back in the pool", sz-av, sz)
		}
		if st := w.pool.Stats(); st.DoubleFree != 0 || st.Foreign != 0 {
			t.Fatalf("pool: %+v", st)
		}
		r.e.neigh.Poll()
	})
}
