package bench

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestMain lets the test binary be a node process too: --procs starts the
// running executable with --node-child, and under go test that is this one.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "--node-child" {
		if err := ServeChild(os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestProcClusterNodesAreProcesses starts a baseline cluster with a
// process per node and checks that each node is its own process, that a
// message sent in one reaches the others through the parent's recorder,
// and that the meter reads the node processes, not this one.
func TestProcClusterNodesAreProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg := &Config{Nodes: 3, Degree: 6, Procs: true, Dir: t.TempDir()}
	if err := cfg.fill(); err != nil {
		t.Fatal(err)
	}
	c, err := startProcCluster(ctx, cfg, ChildRaw, newTopology(3, 6, rand.New(rand.NewPCG(1, 2))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	pids := map[int]bool{os.Getpid(): true}
	for i, pn := range c.nodes {
		pid := pn.cmd.Process.Pid
		if pids[pid] {
			t.Fatalf("node %d runs in process %d, which is this one or another node's", i, pid)
		}
		pids[pid] = true
	}
	rec := newRecorder(3, 1)
	c.setRecorder(rec)
	before := c.read()
	key, err := c.send(ctx, 1, 256)
	if err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(ctx, 30*time.Second, "nodes 0 and 2 to report the message", func() bool {
		_, a := rec.lookup(0, keyOf(key))
		_, b := rec.lookup(2, keyOf(key))
		return a && b
	}); err != nil {
		t.Fatal(err)
	}
	r := c.read()
	if r.rss == 0 || r.maxRSS == 0 || r.maxRSS > r.rss || r.heap == 0 {
		t.Fatalf("node processes' memory not read: %+v", r)
	}
	if r.cpu <= before.cpu {
		t.Fatalf("node processes' CPU did not grow over a send: %v then %v", before.cpu, r.cpu)
	}
	if self := cpuTime(); r.cpu == self {
		t.Fatalf("the meter read this process's CPU (%v)", self)
	}
}

// TestRunProcs runs the latency and throughput runs with a process per
// node, Parley's and the baseline's, and checks the figures are whole.
func TestRunProcs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts node processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tinyConfig()
	cfg.Procs, cfg.Dir = true, t.TempDir()
	if testing.Verbose() {
		cfg.Progress = os.Stderr
	}
	// The load profiles come from a node process (node 1), not this one.
	dir := t.TempDir()
	LoadProfile, LoadHeapProfile = filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "heap.pprof")
	defer func() { LoadProfile, LoadHeapProfile = "", "" }()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{LoadProfile, LoadProfile + ".raw", LoadHeapProfile} {
		b, err := os.ReadFile(name)
		if err != nil || len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b { // pprof's gzip
			t.Errorf("profile %s: %d bytes, %v", filepath.Base(name), len(b), err)
		}
	}
	if !res.Procs {
		t.Error("the result does not say the nodes ran a process each")
	}
	l := res.Latency
	if l == nil || l.Baseline == nil {
		t.Fatal("no latency results")
	}
	for name, s := range map[string]RunSummary{"parley": l.Ours, "baseline": *l.Baseline} {
		if s.Sent != 20 || s.Lost != 0 || s.AllMembers.Count != s.Sent {
			t.Errorf("%s: sent %d, lost %d, %d all-member latencies; want 20 sent, none lost", name, s.Sent, s.Lost, s.AllMembers.Count)
		}
		if s.AllMembers.P50 <= 0 || s.CPUPerMsgUs <= 0 {
			t.Errorf("%s: p50 %v ms, CPU %v us per delivery; want both positive", name, s.AllMembers.P50, s.CPUPerMsgUs)
		}
	}
	m := res.Memory
	if m.LoadMaxNodeRSSMB <= 0 || m.LoadMaxNodeRSSMB > m.ClusterLoadRSSMB*float64(res.Nodes) {
		t.Errorf("largest node process %.1f MB against %.1f MB per node over %d nodes", m.LoadMaxNodeRSSMB, m.ClusterLoadRSSMB, res.Nodes)
	}
	if m.BaselineLoadMaxNodeRSSMB <= 0 || m.BaselineLoadMaxNodeRSSMB > m.BaselineLoadRSSMB*float64(res.Nodes) {
		t.Errorf("largest baseline host process %.1f MB against %.1f MB per host", m.BaselineLoadMaxNodeRSSMB, m.BaselineLoadRSSMB)
	}
	if len(res.Throughput) != 1 || res.Throughput[0].Baseline <= 0 {
		t.Errorf("throughput: %+v", res.Throughput)
	}
}
