// Package pkt holds the unit of work of the packet path: Packet, one frame
// with headroom and its metadata, and Pool, a bounded, single-owner free list
// of Packets backed by one slab.
//
// Buffer layout of one Packet (BufSize bytes, allocated once in the pool slab):
//
//	0            head                       tail                  BufSize
//	|<-headroom->|<-------- frame -------->|<------ tailroom ------>|
//	             ^ Bytes() starts here      ^ Bytes() ends here
//
// Receive writes the frame at DefaultHeadroom so encapsulation can Prepend
// outer headers in place; decapsulation Pulls them off the front.
//
// Metadata travels with the frame: the receiving device (InPort), the table
// or VRF it is routed in, the fwmark, a flow hash, the route result
// (OutPort, NextHop), GSO information from the virtio-net header and the
// metadata slot (none | tunnel info | port mux) that carries tunnel and port
// information between subsystems the way the kernel's metadata_dst does.
//
// Nothing in this package allocates after NewPool, and nothing locks: a Pool
// belongs to one goroutine (a worker) and Packets go back to the pool they
// came from, on that goroutine.
package pkt
