// Package prof starts and writes the profiles parley-bench takes of its
// own process: CPU profiles, execution traces and heap profiles.
package prof

import (
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// StartCPU starts a CPU profile into path and returns what stops it.
func StartCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// StartTrace starts an execution trace (go tool trace) into path and
// returns what stops it.
func StartTrace(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { trace.Stop(); f.Close() }, nil
}

// WriteHeap writes a heap profile of live objects (not "allocs"), as of
// the last completed collection, to path.
func WriteHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.Lookup("heap").WriteTo(f, 0)
}
