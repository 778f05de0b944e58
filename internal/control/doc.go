// Package control is flowpathd's control plane: it owns the authoritative
// configuration (links, addresses, routes, rules, neighbours), validates
// every request the way the kernel would, and changes the dataplane only by
// publishing a new immutable Snapshot.
//
//	api.Request ─► Model.Handle ─► validate ─► fib.Txn (copy-on-write)
//	                  │                           │ any error: discard, nothing changed
//	                  │                           ▼
//	                  └──────────────────► commit: new links + fib.Commit()
//	                                              ▼
//	                                  dataplane.Engine.Publish(snapshot)
//
// Handle is called one request at a time (the Server serialises calls), so
// the model itself needs no locking; workers never see it, only snapshots.
package control
