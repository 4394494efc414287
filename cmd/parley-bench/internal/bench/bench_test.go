package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestRunTiny runs the whole harness with tiny parameters on loopback and
// checks the result is sane. It asserts no timing target.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real loopback nodes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tinyConfig()
	cfg.CatchUp = []int{20}
	cfg.InMemory = true
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := res.Latency
	if l == nil || l.Baseline == nil {
		t.Fatal("no latency results")
	}
	for name, s := range map[string]RunSummary{"parley": l.Ours, "baseline": *l.Baseline} {
		if s.Sent != 20 || s.Lost != 0 || s.Loss != 0 {
			t.Errorf("%s: sent %d, lost %d, loss %v; want 20 sent, none lost", name, s.Sent, s.Lost, s.Loss)
		}
		if s.AllMembers.Count != s.Sent || s.PerDelivery.Count != s.Sent*(res.Nodes-1) {
			t.Errorf("%s: %d all-member and %d per-delivery latencies for %d messages", name, s.AllMembers.Count, s.PerDelivery.Count, s.Sent)
		}
		for _, v := range append(append([]float64{}, s.allMs...), s.eachMs...) {
			if v <= 0 {
				t.Fatalf("%s: latency %v ms is not positive", name, v)
			}
		}
		if s.AllMembers.P50 <= 0 || s.AllMembers.P50 > s.AllMembers.P99 || s.AllMembers.P99 > s.AllMembers.Max {
			t.Errorf("%s: percentiles out of order: %+v", name, s.AllMembers)
		}
	}
	// 20 texts stored on 3 nodes, each with its keys: well over 10 KB put
	// into the stores' memtables (Badger's counter, storeWork).
	if w := l.Ours.StoreWrittenMB; w < 0.01 {
		t.Errorf("parley: the stores wrote %v MB over the latency run; want the texts' bytes at least", w)
	}
	if res.Loss != 0 || res.P50Ms <= 0 || res.P99Ms < res.P50Ms {
		t.Errorf("headline: loss %v p50 %v p99 %v", res.Loss, res.P50Ms, res.P99Ms)
	}
	if len(res.Throughput) != 1 || len(res.Throughput[0].OursSteps) != 1 || len(res.Throughput[0].BaselineSteps) != 1 {
		t.Errorf("throughput: %+v", res.Throughput)
	}
	if len(res.CatchUp) != 1 || res.CatchUp[0].Missed != 20 || res.CatchUp[0].Seconds <= 0 {
		t.Errorf("catch-up: %+v", res.CatchUp)
	}
	if res.RSSMB <= 0 || res.Memory.ClusterIdleRSSMB <= 0 {
		t.Errorf("memory: %+v", res.Memory)
	}

	dir := t.TempDir()
	jsonPath, pngPath := filepath.Join(dir, "out", "bench.json"), filepath.Join(dir, "out", "latency.png")
	if err := res.WriteJSON(jsonPath); err != nil {
		t.Fatal(err)
	}
	if err := res.WritePNG(pngPath); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{jsonPath, pngPath} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written (%v)", p, err)
		}
	}
	png, _ := os.ReadFile(pngPath)
	if len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("%s is not a PNG", pngPath)
	}
}

func TestTopologyConnected(t *testing.T) {
	for _, n := range []int{2, 5, 7, 8, 40, 100} {
		topo := newTopology(n, 6, newRand(1))
		adj := make([][]int, n)
		for _, e := range topo.edges {
			adj[e[0]] = append(adj[e[0]], e[1])
			adj[e[1]] = append(adj[e[1]], e[0])
		}
		seen := map[int]bool{0: true}
		queue := []int{0}
		for len(queue) > 0 {
			v := queue[0]
			queue = queue[1:]
			for _, w := range adj[v] {
				if !seen[w] {
					seen[w] = true
					queue = append(queue, w)
				}
			}
		}
		if len(seen) != n {
			t.Errorf("n=%d: %d of %d nodes reachable", n, len(seen), n)
		}
		for i := 1; i < n; i++ {
			if topo.parent[i] >= i {
				t.Errorf("n=%d: node %d joins through later node %d", n, i, topo.parent[i])
			}
		}
	}
}

// TextWords: each message its own text of exactly the size asked, the same
// text for the same message number (runs compare).
func TestWordsText(t *testing.T) {
	a, b := wordsText(1, 256), wordsText(2, 256)
	if len(a) != 256 || len(b) != 256 || a == b {
		t.Fatalf("texts %q and %q", a, b)
	}
	if wordsText(1, 256) != a {
		t.Fatal("the same message number gave another text")
	}
	if got := wordsText(3, 0); got != "" {
		t.Fatalf("size 0: %q", got)
	}
}

// tinyConfig is a whole run at its smallest: 3 nodes, a 20-message latency
// run, one throughput step, no catch-up.
func tinyConfig() Config {
	return Config{
		Nodes:           3,
		Rate:            20,
		Duration:        time.Second, // 20 messages
		ThroughputSizes: []int{256},
		StepDuration:    300 * time.Millisecond,
		MaxSteps:        1,
		Repeats:         1,
		MaxRate:         100,
		Drain:           5 * time.Second,
		IdleWindow:      200 * time.Millisecond,
	}
}
