package bench

import (
	"runtime"
	"time"
)

// reading is what a system's processes have used so far (cpu, alloc,
// store) and hold now (memory). With every node in this process (the
// default) that is the process; with --procs it is the sum over the
// nodes' processes, and maxRSS/maxAnon are the largest one's.
type reading struct {
	cpu             time.Duration
	rss, anon, heap uint64
	maxRSS, maxAnon uint64
	alloc           allocs
	store           storeWork
	goroutines      int
}

// meter reads a system's processes.
type meter interface {
	read() reading
	// settle waits pause, then has the processes return freed memory to
	// the OS, so that RSS shows what is live.
	settle(pause time.Duration)
}

// selfMeter reads this process: every node in it.
type selfMeter struct{}

func (selfMeter) settle(pause time.Duration) { settle(pause) }

func (selfMeter) read() reading {
	rss, anon := rssBytes(), anonBytes()
	return reading{cpu: cpuTime(), rss: rss, anon: anon, heap: heapBytes(), maxRSS: rss, maxAnon: anon,
		alloc: heapAllocs(), store: readStoreWork(), goroutines: runtime.NumGoroutine()}
}

// meterOf is sys's own meter when it runs its nodes in processes of their
// own, this process's otherwise.
func meterOf(sys system) meter {
	if m, ok := sys.(meter); ok {
		return m
	}
	return selfMeter{}
}
