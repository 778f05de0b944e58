// Package nstest builds throwaway network topologies for root-only tests:
// named namespaces (fpt-<role>-<pid>), veth pairs between them, and a TCP
// transfer that checks every byte. Everything it creates is removed by
// t.Cleanup, also when the test fails. Tests that use it skip unless run as
// root.
//
// Namespaces and links are made with iproute2's ip(8); code that must open
// sockets inside a namespace runs on a locked OS thread switched into it
// (NS.Do), since a socket belongs to the namespace of the thread that
// created it.
package nstest
