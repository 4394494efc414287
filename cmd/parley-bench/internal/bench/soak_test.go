package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestSoakTiny runs a two-window soak on three on-disk nodes, in one
// process and with a process per node, and checks every window is
// recorded with its process state. No timing is asserted.
func TestSoakTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real loopback nodes")
	}
	for _, procs := range []bool{false, true} {
		t.Run(fmt.Sprintf("procs=%v", procs), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cfg := Config{
				Nodes: 3, Rate: 20, Drain: 5 * time.Second, IdleWindow: 100 * time.Millisecond,
				Soak: 2 * time.Second, SoakWindow: time.Second, Dir: t.TempDir(), Procs: procs,
			}
			res, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			s := res.Soak
			if s == nil || len(s.Windows) != 2 {
				t.Fatalf("soak windows: %+v, want 2", s)
			}
			for i, w := range s.Windows {
				if w.Sent != 20 || w.Lost != 0 || w.Goroutines <= 0 || w.RSSMB <= 0 || w.DiskMB <= 0 {
					t.Errorf("window %d: %+v; want 20 sent, none lost, process state recorded", i, w)
				}
				if procs && (w.PeakMaxNodeRSSMB <= 0 || w.PeakMaxNodeRSSMB > w.PeakRSSMB) {
					t.Errorf("window %d: largest node process %.1f MB of %.1f MB in all", i, w.PeakMaxNodeRSSMB, w.PeakRSSMB)
				}
			}
			// DiskBytesPerMsg is not checked: forty messages fit in the files
			// Badger preallocated, so the store need not grow at all.
			var b strings.Builder
			writeSoak(&b, s, res.Procs)
			if !strings.Contains(b.String(), "| end s |") || procs != strings.Contains(b.String(), "largest node's peak RSS") {
				t.Errorf("soak table:\n%s", b.String())
			}
		})
	}
}
