// Package api is flowpathd's control API: versioned JSON requests and
// responses over a unix socket, one JSON object per line. fpctl speaks it;
// anything else may too.
//
// A Request names an operation ("route.add") and carries the object it
// acts on. A Response carries either an error (message plus the errno name
// of the kernel's equivalent, so clients can print iproute2's text) or the
// objects a "show" asked for. Addresses and prefixes travel as text in
// iproute2's notation; tables as numbers (fpctl maps names).
package api
