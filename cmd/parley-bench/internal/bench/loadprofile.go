package bench

import (
	"fmt"
	"os"
	"sync"

	"github.com/parley-chat/parley/cmd/parley-bench/internal/prof"
)

// LoadProfile, when set, names a file for a CPU profile of Parley's first
// latency run only: the whole-run profile is dominated by cluster set-up
// (joins replay and verify the membership log), which hides the cost per
// delivery. The baseline's first latency run goes to LoadProfile+".raw",
// so the two can be compared (pprof -diff_base).
var LoadProfile string

// LoadTrace, when set, names a file for an execution trace (go tool trace)
// of Parley's first latency run only: where a message waits between its
// send and its delivery (runnable goroutines, syscalls, the collector).
var LoadTrace string

// LoadHeapProfile, when set, names a file for a heap profile (live objects)
// taken when Parley's first latency run stops sending, when its queues and
// memtables hold about the most they will.
var LoadHeapProfile string

var loadProfileOnce, rawProfileOnce, loadTraceOnce, loadHeapOnce sync.Once

// atSendEnd runs in paced when the last message has been sent; set only
// for the run whose heap profile is wanted.
var atSendEnd func()

// profiledNode is the node whose process --procs runs profile: a member
// that sends, receives and forwards like the others (node 0 also owns the
// group).
const profiledNode = 1

// profiler takes the load profiles of a system: of this process, or with a
// process per node, of node profiledNode's.
type profiler interface {
	startCPU(name string) (stop func(), err error)
	startTrace(name string) (stop func(), err error)
	writeHeap(name string) error
}

func profilerOf(sys system) profiler {
	if pc, ok := sys.(*procCluster); ok {
		return nodeProfiler{pc.nodes[min(profiledNode, len(pc.nodes)-1)]}
	}
	return selfProfiler{}
}

// startLoadProfile starts the load profiles asked for (LoadTrace,
// LoadHeapProfile, LoadProfile) of sys's first latency run.
func startLoadProfile(sys system, baseline bool) (stop func()) {
	p := profilerOf(sys)
	var stops []func()
	keep := func(what string, stop func(), err error) {
		if err != nil {
			fmt.Fprintf(os.Stderr, "load %s: %v\n", what, err)
			return
		}
		stops = append(stops, stop)
	}
	if LoadTrace != "" && !baseline {
		loadTraceOnce.Do(func() {
			stop, err := p.startTrace(LoadTrace)
			keep("trace", stop, err)
		})
	}
	if LoadHeapProfile != "" && !baseline {
		loadHeapOnce.Do(func() {
			atSendEnd = func() {
				if err := p.writeHeap(LoadHeapProfile); err != nil {
					fmt.Fprintln(os.Stderr, "load heap profile:", err)
				}
			}
			stops = append(stops, func() { atSendEnd = nil })
		})
	}
	if LoadProfile != "" {
		once, name := &loadProfileOnce, LoadProfile
		if baseline {
			once, name = &rawProfileOnce, LoadProfile+".raw"
		}
		once.Do(func() {
			stop, err := p.startCPU(name)
			keep("profile", stop, err)
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// traceSystem starts an execution trace of sys (profilerOf).
func traceSystem(sys system, name string) (stop func()) {
	stop, err := profilerOf(sys).startTrace(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load trace:", err)
		return func() {}
	}
	return stop
}

// selfProfiler profiles this process.
type selfProfiler struct{}

func (selfProfiler) startCPU(name string) (func(), error)   { return prof.StartCPU(name) }
func (selfProfiler) startTrace(name string) (func(), error) { return prof.StartTrace(name) }
func (selfProfiler) writeHeap(name string) error            { return prof.WriteHeap(name) }

// nodeProfiler has one node process (child.go) profile itself.
type nodeProfiler struct{ pn *procNode }

func (p nodeProfiler) start(kind, name string) (func(), error) {
	if err := p.pn.cl.Call("Node.StartProfile", ProfileArgs{Kind: kind, Path: name}, nil); err != nil {
		return nil, err
	}
	return func() { p.pn.cl.Call("Node.StopProfile", kind, nil) }, nil
}

func (p nodeProfiler) startCPU(name string) (func(), error)   { return p.start("cpu", name) }
func (p nodeProfiler) startTrace(name string) (func(), error) { return p.start("trace", name) }

func (p nodeProfiler) writeHeap(name string) error {
	return p.pn.cl.Call("Node.StartProfile", ProfileArgs{Kind: "heap", Path: name}, nil)
}
