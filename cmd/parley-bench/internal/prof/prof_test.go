package prof

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProfilesWritten takes each profile and checks its file holds one:
// pprof's are gzip, a trace starts with its header.
func TestProfilesWritten(t *testing.T) {
	dir := t.TempDir()
	cpu, trc, heap := filepath.Join(dir, "cpu"), filepath.Join(dir, "trace"), filepath.Join(dir, "heap")
	stopCPU, err := StartCPU(cpu)
	if err != nil {
		t.Fatal(err)
	}
	stopTrace, err := StartTrace(trc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := StartCPU(filepath.Join(dir, "cpu2")); err == nil {
		t.Error("a second CPU profile started while one runs")
	}
	stopTrace()
	stopCPU()
	if err := WriteHeap(heap); err != nil {
		t.Fatal(err)
	}
	for name, magic := range map[string]string{cpu: "\x1f\x8b", heap: "\x1f\x8b", trc: "go 1."} {
		b, err := os.ReadFile(name)
		if err != nil || len(b) < len(magic) || string(b[:len(magic)]) != magic {
			t.Errorf("%s: %d bytes, %v; want it to start with %q", filepath.Base(name), len(b), err, magic)
		}
	}
	if _, err := StartCPU(filepath.Join(dir, "missing", "cpu")); err == nil {
		t.Error("a profile into a missing directory started")
	}
}
