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
// delivery.
var LoadProfile string

var loadProfileOnce sync.Once

func startLoadProfile() (stop func()) {
	stop = func() {}
	if LoadProfile == "" {
		return stop
	}
	loadProfileOnce.Do(func() {
		f, err := os.Create(LoadProfile)
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
