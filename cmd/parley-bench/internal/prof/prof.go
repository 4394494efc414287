// Package prof starts and writes the profiles parley-bench takes of its
// own process: CPU profiles, execution traces and heap profiles.
package prof

import (
	"io"
	"os"
	"runtime/pprof"
	"runtime/trace"
)

// StartCPU starts a CPU profile into path and returns what stops it.
func StartCPU(path string) (stop func(), err error) {
	return startInto(path, pprof.StartCPUProfile, pprof.StopCPUProfile)
}

// StartTrace starts an execution trace (go tool trace) into path and
// returns what stops it.
func StartTrace(path string) (stop func(), err error) {
	return startInto(path, trace.Start, trace.Stop)
}

// startInto creates path, starts a recording into it with begin, and
// returns what ends the recording and closes the file.
func startInto(path string, begin func(io.Writer) error, end func()) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := begin(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { end(); f.Close() }, nil
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
