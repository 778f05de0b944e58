package neigh

import (
	"net/netip"
	"slices"
	"testing"
)

// SetAfterPoll: every Poll ends with the hook, after that pass's
// solicitations, also when the pass had nothing to send.
func TestAfterPollRunsAfterSolicitations(t *testing.T) {
	h := newHarness(t, nil)
	var order []string
	h.tbl.solicit = func(dev uint32, a netip.Addr, _ *[6]byte) { order = append(order, "solicit "+a.String()) }
	h.tbl.SetAfterPoll(func() { order = append(order, "after") })
	h.tbl.Miss(0, 1, netip.MustParseAddr("10.0.0.9"))
	h.tbl.Poll()
	h.tbl.Poll()
	if want := []string{"solicit 10.0.0.9", "after", "after"}; !slices.Equal(order, want) {
		t.Fatalf("calls %v, want %v", order, want)
	}
}
