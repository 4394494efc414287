package bench

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"sync"
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

func startLoadProfile(sys system, baseline bool) (stop func()) {
	if pc, ok := sys.(*procCluster); ok {
		return pc.startLoadProfile(baseline)
	}
	stopTrace := func() {}
	if LoadTrace != "" && !baseline {
		loadTraceOnce.Do(func() { stopTrace = startTrace(LoadTrace) })
	}
	stop = stopTrace
	if LoadHeapProfile != "" && !baseline {
		loadHeapOnce.Do(func() {
			atSendEnd = func() { writeHeapProfile(LoadHeapProfile) }
			stop = func() { atSendEnd = nil; stopTrace() }
		})
	}
	if LoadProfile == "" {
		return stop
	}
	once, name := &loadProfileOnce, LoadProfile
	if baseline {
		once, name = &rawProfileOnce, LoadProfile+".raw"
	}
	once.Do(func() {
		f, err := os.Create(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load profile:", err)
			return
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "load profile:", err)
			f.Close()
			return
		}
		prev := stop
		stop = func() { pprof.StopCPUProfile(); f.Close(); prev() }
	})
	return stop
}

func startTrace(name string) (stop func()) {
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load trace:", err)
		return func() {}
	}
	if err := trace.Start(f); err != nil {
		fmt.Fprintln(os.Stderr, "load trace:", err)
		f.Close()
		return func() {}
	}
	return func() { trace.Stop(); f.Close() }
}

func writeHeapProfile(name string) {
	f, err := os.Create(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load heap profile:", err)
		return
	}
	defer f.Close()
	// Not "allocs": live objects, as of the last completed collection.
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		fmt.Fprintln(os.Stderr, "load heap profile:", err)
	}
}

// startLoadProfile is startLoadProfile for a process per node: the same
// profiles, of node profiledNode's process.
func (c *procCluster) startLoadProfile(baseline bool) (stop func()) {
	pn := c.nodes[min(profiledNode, len(c.nodes)-1)]
	profile := func(kind, path string) bool {
		if err := pn.cl.Call("Node.StartProfile", ProfileArgs{Kind: kind, Path: path}, nil); err != nil {
			fmt.Fprintf(os.Stderr, "load %s profile: %v\n", kind, err)
			return false
		}
		return true
	}
	endProfile := func() { pn.cl.Call("Node.StopProfile", 0, nil) }
	stop = func() {}
	if LoadTrace != "" && !baseline {
		loadTraceOnce.Do(func() {
			if profile("trace", LoadTrace) {
				stop = endProfile
			}
		})
	}
	if LoadHeapProfile != "" && !baseline {
		loadHeapOnce.Do(func() {
			prev := stop
			atSendEnd = func() { profile("heap", LoadHeapProfile) }
			stop = func() { atSendEnd = nil; prev() }
		})
	}
	if LoadProfile == "" {
		return stop
	}
	once, name := &loadProfileOnce, LoadProfile
	if baseline {
		once, name = &rawProfileOnce, LoadProfile+".raw"
	}
	once.Do(func() {
		if profile("cpu", name) {
			prev := stop
			stop = func() { prev(); endProfile() } // ends the trace too, if one runs: once is enough
		}
	})
	return stop
}

// traceSystem starts an execution trace of sys: of this process, or with a
// process per node, of node profiledNode's.
func traceSystem(sys system, name string) (stop func()) {
	pc, ok := sys.(*procCluster)
	if !ok {
		return startTrace(name)
	}
	pn := pc.nodes[min(profiledNode, len(pc.nodes)-1)]
	if err := pn.cl.Call("Node.StartProfile", ProfileArgs{Kind: "trace", Path: name}, nil); err != nil {
		fmt.Fprintln(os.Stderr, "load trace:", err)
		return func() {}
	}
	return func() { pn.cl.Call("Node.StopProfile", 0, nil) }
}
