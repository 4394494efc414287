package bench

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
)

// LoadProfile, when set, names a file for a CPU profile of Parley's first
// latency run only: the whole-run profile is dominated by cluster set-up
// (joins replay and verify the membership log), which hides the cost per
// delivery. The baseline's first latency run goes to LoadProfile+".raw",
// so the two can be compared (pprof -diff_base).
var LoadProfile string

var loadProfileOnce, rawProfileOnce sync.Once

func startLoadProfile(baseline bool) (stop func()) {
	stop = func() {}
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
		stop = func() { pprof.StopCPUProfile(); f.Close() }
	})
	return stop
}
