package control

import (
	"flowpath/api"
)

// stats gathers the daemon's counters: per device, drops by reason, per
// worker, neighbour table.
func (m *Model) stats() (*api.Response, error) {
	st := &api.Stats{Drops: m.e.Drops(), Generation: m.e.Snapshot().Gen}
	for _, l := range m.sortedLinks() {
		st.Links = append(st.Links, api.LinkStatsEntry{Name: l.name, LinkStats: *m.linkStats(l)})
	}
	for _, w := range m.e.Workers() {
		st.Workers = append(st.Workers, api.WorkerStats{ID: w.ID, Port: m.devName(w.Dev), Queue: w.Queue,
			Packets: w.Packets, Batches: w.Batches, Coalesced: w.Coalesced, CPU: w.CPU, CPUMoves: w.CPUMoves, PoolInUse: w.Pool.InUse, PoolSize: w.Pool.Size,
			PoolEmpty: w.Pool.Exhausted, Pending: w.Pending})
	}
	st.Neigh = m.neighStats()
	return &api.Response{Stats: st}, nil
}
