package gso

import (
	"bytes"
	"testing"

	"flowpath/internal/hdr"
	"flowpath/internal/pkt"
)

// FuzzCoalesce mutates the segments of two interleaved super-frames (byte
// flips, truncation, reordering, driven by the input) and checks that
// Coalesce accounts for every frame, keeps non-merged frames as they are,
// and that segmenting what it merged gives back the frames it consumed
// (IPv4 ID and header checksum and the TCP/UDP checksum aside: merging
// equal IDs under DF, a checksum of 0xffff for 0, or a UDP datagram
// without checksum, are not undone bit for bit).
func FuzzCoalesce(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 40, 1, 3, 60, 2, 7, 0x80})
	f.Add([]byte{1, 13, 0x18, 2, 47, 0x11, 5, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		pool := pkt.NewPool("f", 40)
		payload := make([]byte, 6000)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		a := segmentSpec(t, pool, &frameSpec{payload: payload, mss: 1000, tcpOpts: tsOpt, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 9, seq: 77})
		b := segmentSpec(t, pool, &frameSpec{v6: true, payload: payload[:2500], mss: 900, flags: hdr.TCPFlagACK, seq: 1})
		c := segmentSpec(t, pool, &frameSpec{udp: true, payload: payload[:3000], mss: 700})
		// Two halves of a super-frame with partial checksums, as
		// MergeTunnelUSO leaves them: the first with PSH inside.
		h0 := frameSpec{payload: payload[:3000], mss: 1000, flags: hdr.TCPFlagACK | hdr.TCPFlagPSH, id: 40, seq: 5000, partial: true}
		h1 := frameSpec{payload: payload[3000:5500], mss: 1000, flags: hdr.TCPFlagACK, id: 43, seq: 8000, partial: true}
		batch := append(append(append([]*pkt.Packet(nil), a...), b...), c...)
		batch = append(batch, makePacket(t, pool, &h0), makePacket(t, pool, &h1))
		// data: triples (frame, offset, value); value 0 truncates,
		// 0xff swaps the frame with the next one, else xor.
		for i := 0; i+2 < len(data); i += 3 {
			k := int(data[i]) % len(batch)
			p := batch[k]
			off := int(data[i+1]) % p.Len()
			switch data[i+2] {
			case 0:
				p.Truncate(off + 1)
			case 0xff:
				j := (k + 1) % len(batch)
				batch[k], batch[j] = batch[j], batch[k]
			default:
				p.Bytes()[off] ^= data[i+2]
			}
		}
		frames := len(batch)
		in := expand(pool, batch)
		n, merged := Coalesce(batch)
		if n+merged != frames {
			t.Fatalf("n %d + merged %d != %d", n, merged, frames)
		}
		out := expand(pool, batch[:n])
		if len(out) != len(in) {
			t.Fatalf("%d frames after resegmenting, want %d", len(out), len(in))
		}
		for i := range in {
			// A merged super-frame keeps one PSH, on its last segment.
			if !bytes.Equal(maskPSH(out[i]), maskPSH(in[i])) {
				t.Fatalf("frame %d differs after the round trip\n got %x\nwant %x", i, out[i], in[i])
			}
		}
		freeAll(batch[:n])
		if pool.Available() != pool.Size() {
			t.Fatal("leak")
		}
	})
}

// expand is the frames' bytes with every super-frame Segment can cut cut
// into its segments (one the fuzzer broke stays whole, and must stay so).
func expand(pool *pkt.Pool, pkts []*pkt.Packet) [][]byte {
	var frames [][]byte
	out := make([]*pkt.Packet, 64)
	for _, p := range pkts {
		n, ok := 0, false
		if p.GSO.IsGSO() {
			n, ok = Segment(p, pool, out)
		}
		if !ok {
			frames = append(frames, append([]byte(nil), p.Bytes()...))
			continue
		}
		for _, q := range out[:n] {
			frames = append(frames, append([]byte(nil), q.Bytes()...))
			q.Free()
		}
	}
	return frames
}

// mask clears the fields a merge need not preserve bit for bit in a TCP
// frame parseSeg would accept the headers of.
func mask(f []byte) []byte {
	f = append([]byte(nil), f...)
	if len(f) < 14+20+20 {
		return f
	}
	switch {
	case f[12] == 0x08 && f[13] == 0x00 && f[14] == 0x45 && f[23] == hdr.IPProtoTCP:
		f[18], f[19], f[24], f[25] = 0, 0, 0, 0
		f[34+16], f[34+17] = 0, 0
	case f[12] == 0x08 && f[13] == 0x00 && f[14] == 0x45 && f[23] == hdr.IPProtoUDP:
		f[18], f[19], f[24], f[25] = 0, 0, 0, 0
		f[34+6], f[34+7] = 0, 0
	case f[12] == 0x86 && f[13] == 0xdd && len(f) >= 14+40+8 && f[20] == hdr.IPProtoUDP:
		f[54+6], f[54+7] = 0, 0
	case f[12] == 0x86 && f[13] == 0xdd && len(f) >= 14+40+20 && f[20] == hdr.IPProtoTCP:
		f[54+16], f[54+17] = 0, 0
	}
	return f
}
