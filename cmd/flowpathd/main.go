// Command flowpathd is the flowpath daemon: it runs the dataplane engine,
// serves the control API on a unix socket, and wires the concrete port
// types (AF_PACKET, TAP) to the links fpctl creates. It holds no logic of
// its own beyond that wiring.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"flowpath/api"
	"flowpath/internal/control"
	"flowpath/internal/dataplane"
	"flowpath/internal/errs"
	"flowpath/internal/port"
	"flowpath/internal/port/afpacket"
	"flowpath/internal/port/tap"
	"flowpath/internal/sys"
	"flowpath/internal/tunnel"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("flowpathd", flag.ContinueOnError)
	socket := fs.String("socket", api.DefaultSocket, "control socket path")
	hash := fs.String("multipath-hash", "l3", "ECMP hash policy: l3 (addresses) or l4 (5-tuple)")
	pool := fs.Int("pool", 0, "packets per worker pool (default 4096)")
	rxTimeout := fs.Duration("rx-timeout", 0, "worker poll timeout (default 50ms)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until exit")
	blockSize := fs.Int("afpacket-block-size", 0, "AF_PACKET ring block size in bytes (default 1 MiB)")
	blocks := fs.Int("afpacket-blocks", 0, "AF_PACKET ring blocks per queue (default 32)")
	afRx := fs.String("afpacket-rx", "recvmmsg", "AF_PACKET receive: recvmmsg (one copy, per-frame wake-up) or ring (TPACKET_V3, cheaper per small frame)")
	rxWait := fs.String("rx-wait", "poller", "how an idle TAP or AF_PACKET recvmmsg worker waits: poller (parked in the Go runtime's poller, holding no thread) "+
		"or ppoll (blocked in ppoll(2) on its own thread); the AF_PACKET ring always waits in ppoll")
	cpus := fs.String("cpus", "", "run on these CPUs only (a list as taskset -c takes: 0, 0-3, 0,2), and with as many Go "+
		"processors as CPUs: a userspace dataplane kept off the CPUs of other busy processes, as OVS's pmd-cpu-mask; "+
		"with --follow-senders, workers rest there and leave only to follow a flooding sender")
	fs.BoolVar(&followSenders, "follow-senders", false, "bind each AF_PACKET and TAP worker to the CPU its frames arrive on (its sender's), "+
		"as the kernel forwards in the sender's softirq: a flooding sender then slows down instead of the receiver losing packets; "+
		"an eBPF socket filter counts arrivals per CPU; a worker no longer following goes back to the --cpus set, else to any CPU")
	encaps := fs.String("lwt-encap", tunnel.AllEncapTypes.String(), "route encapsulation types routes may use, comma-separated "+
		"(the kernel's lwtunnel modules): a route with another type gets EOPNOTSUPP; \"\" for none")
	gro := fs.String("gro", "on", "merge consecutive TCP segments of a flow into GSO super-frames before ports that take them: on or off")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 0 {
		fmt.Fprintf(os.Stderr, "flowpathd: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *hash != "l3" && *hash != "l4" {
		fmt.Fprintf(os.Stderr, "flowpathd: --multipath-hash must be l3 or l4, not %q\n", *hash)
		return 2
	}
	encapTypes, err := tunnel.ParseEncapTypes(*encaps)
	if err != nil {
		fmt.Fprintf(os.Stderr, "flowpathd: --lwt-encap: %v\n", err)
		return 2
	}
	cfg := dataplane.DefaultConfig()
	if *pool > 0 {
		cfg.PoolSize = *pool
	}
	if *rxTimeout > 0 {
		cfg.RxTimeout = *rxTimeout
	}
	switch *gro {
	case "on":
	case "off":
		cfg.TxCoalesce = false
	default:
		fmt.Fprintf(os.Stderr, "flowpathd: --gro must be on or off, not %q\n", *gro)
		return 2
	}
	logger := log.New(os.Stderr, "flowpathd: ", log.LstdFlags)
	afpacketCfg.BlockSize, afpacketCfg.NumBlocks = *blockSize, *blocks
	switch *rxWait {
	case "poller":
	case "ppoll":
		ppollWait = true
	default:
		fmt.Fprintf(os.Stderr, "flowpathd: --rx-wait must be poller or ppoll, not %q\n", *rxWait)
		return 2
	}
	if *cpus != "" {
		set, err := sys.ParseCPUList(*cpus)
		n := 0
		if err == nil {
			n, err = sys.PinProcess(set)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "flowpathd: --cpus: %v\n", err)
			return 2
		}
		runtime.GOMAXPROCS(n)
	}
	switch *afRx {
	case "ring":
	case "recvmmsg":
		afpacketCfg.Recvmmsg = true
	default:
		fmt.Fprintf(os.Stderr, "flowpathd: --afpacket-rx must be ring or recvmmsg, not %q\n", *afRx)
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			logger.Print(err)
			return 1
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			logger.Print(err)
			return 1
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	engine := dataplane.New(cfg)
	go engine.Run(ctx)
	model, err := control.NewModel(control.Options{Engine: engine, OpenPort: openPort, HashL4: *hash == "l4",
		EncapTypes: encapTypes, NoEncapTypes: encapTypes == 0})
	if err != nil {
		logger.Print(err)
		return 1
	}
	srv := control.NewServer(model.Handle)
	srv.Logf = logger.Printf
	if err := srv.Listen(*socket); err != nil {
		logger.Print(err)
		return 1
	}
	logger.Printf("listening on %s", *socket)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	select {
	case <-ctx.Done():
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			logger.Print(err)
		}
	}
	_ = srv.Close()
	model.Close()
	engine.Close()
	logger.Printf("stopped")
	// Give the neighbour manager a moment to see the cancellation.
	time.Sleep(10 * time.Millisecond)
	return 0
}

// afpacketCfg holds the ring geometry from the command line.
var afpacketCfg afpacket.Config

// ppollWait: --rx-wait ppoll, for AF_PACKET and TAP ports.
var ppollWait bool

// followSenders: --follow-senders.
var followSenders bool

// openPort opens the medium for a link; the engine needs one transmit
// queue per worker plus the control queue on every port.
func openPort(l *api.Link) (port.Port, error) {
	queues := l.Queues
	if queues < 1 {
		queues = 1
	}
	switch l.Kind {
	case "afpacket":
		c := afpacketCfg
		c.Queues, c.NumTx = queues, dataplane.TxQueues
		c.CountCPUs, c.Ppoll = followSenders, ppollWait
		return afpacket.Open(l.IfName, c)
	case "tap":
		return tap.Open(l.IfName, tap.Config{Queues: queues, NumTx: dataplane.TxQueues, CountCPUs: followSenders, Ppoll: ppollWait})
	}
	return nil, fmt.Errorf("link type %s: %w", l.Kind, errs.ErrNotSupported)
}
