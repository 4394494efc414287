package bench

import (
	"bufio"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const mib = 1 << 20

// rssBytes is the process's resident set size (VmRSS), 0 if unknown.
func rssBytes() uint64 { return statusKB("VmRSS:") }

// anonBytes is the anonymous part of RSS (RssAnon): what the program holds.
// The rest is file pages, mostly Badger's memory-mapped tables and logs,
// which the kernel drops under memory pressure and which grow with the
// store's size, not with the load.
func anonBytes() uint64 { return statusKB("RssAnon:") }

// statusKB reads one "Name: N kB" line of /proc/self/status, in bytes.
func statusKB(name string) uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name); ok {
			fields := strings.Fields(rest)
			if len(fields) == 0 {
				return 0
			}
			kb, _ := strconv.ParseUint(fields[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func heapBytes() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// settle returns freed memory to the OS so RSS shows what is live.
func settle(pause time.Duration) {
	time.Sleep(pause)
	runtime.GC()
	debug.FreeOSMemory()
}

// cpuTime is the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memSampler records the peak RSS and heap of a meter's processes while
// it runs: their sums, and the largest process's RSS.
type memSampler struct {
	stop        chan struct{}
	done        chan struct{}
	peakRSS     uint64
	peakAnon    uint64
	peakHeap    uint64
	peakMaxRSS  uint64
	peakMaxAnon uint64
}

func startSampler(m meter, every time.Duration) *memSampler {
	s := &memSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			r := m.read()
			s.peakRSS = max(s.peakRSS, r.rss)
			s.peakAnon = max(s.peakAnon, r.anon)
			s.peakHeap = max(s.peakHeap, r.heap)
			s.peakMaxRSS = max(s.peakMaxRSS, r.maxRSS)
			s.peakMaxAnon = max(s.peakMaxAnon, r.maxAnon)
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// PeakAnon is the highest anonymous RSS seen (after Stop).
func (s *memSampler) PeakAnon() uint64 { return s.peakAnon }

// Stop ends sampling and returns the peaks.
func (s *memSampler) Stop() (rss, heap uint64) {
	close(s.stop)
	<-s.done
	return s.peakRSS, s.peakHeap
}

// settleCPU waits (bounded by limit) until m's processes use little more
// CPU than the idle cluster does (idle, in cores), and reports whether they did.
func settleCPU(ctx context.Context, m meter, idle float64, limit time.Duration) bool {
	const window = 250 * time.Millisecond
	deadline := time.Now().Add(limit)
	quiet := 0
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c0 := m.read().cpu
		time.Sleep(window)
		if used := float64(m.read().cpu-c0) / float64(window); used < idle+0.1 {
			quiet++
		} else {
			quiet = 0
		}
		if quiet == quietWindows {
			return true
		}
	}
	return false
}

// quietWindows is how many windows in a row must be near idle. The stores
// catch up in bursts after a heavy step (memtable flushes, then compactions
// of the tables they leave, each a few hundred ms of CPU with gaps between),
// and one quiet window fell in such a gap: the next step then started on
// that work and a light step failed after a heavy one.
const quietWindows = 4

// applyNodeMemoryLimit gives the process the soft memory limit n daemons
// would have together (each runs with perNode by default), on top of what
// it holds now; it returns the function that restores the previous limit.
func applyNodeMemoryLimit(perNode int64, n int) func() {
	if perNode <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return nil
	}
	old := debug.SetMemoryLimit(int64(rssBytes()) + int64(n)*perNode)
	return func() { debug.SetMemoryLimit(old) }
}

// allocs is what the process's heap allocated so far (runtime/metrics).
type allocs struct{ bytes, objects uint64 }

func heapAllocs() allocs {
	m := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(m)
	var a allocs
	if m[0].Value.Kind() == metrics.KindUint64 {
		a.bytes = m[0].Value.Uint64()
	}
	if m[1].Value.Kind() == metrics.KindUint64 {
		a.objects = m[1].Value.Uint64()
	}
	return a
}

func (a allocs) minus(b allocs) allocs { return allocs{a.bytes - b.bytes, a.objects - b.objects} }
