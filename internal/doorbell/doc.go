// Package doorbell wakes a manager goroutine that sleeps while the
// lock-free producers feeding it (dataplane workers posting to rings) are
// quiet, so that an idle flowpathd does not poll.
//
//	producer (worker)                      consumer (manager)
//	post(event)                            asleep = true
//	Ring(): asleep? ──yes── CAS, write ──► ready()? no ──► read eventfd (≤ timeout)
//	        └──no── nothing                 asleep = false
//
// Ring costs a producer one atomic load while the consumer is awake, and
// one compare-and-swap and one eventfd write when it is asleep: no lock, no
// allocation, no blocking. A consumer that marks itself asleep looks for
// work once more (ready) before it waits: whatever a producer posted before
// it saw the mark is found there, whatever after is rung (both sides use
// sequentially consistent atomics).
//
// Manage is the loop neigh's and fdb's managers run: poll every busy
// interval while events come, every IdlePoll after IdleAfter without one,
// asleep on the bell in between.
//
// The eventfd is made with package syscall, so packages that may import
// only the standard library (neigh, fdb) can use this one.
package doorbell
