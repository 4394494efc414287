package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"
)

// Growth is the cost-as-work-grows runs: how latency, CPU and memory grow
// with the cluster size at a fixed rate, and how catch-up time, memory and
// disk grow with the history size.
type Growth struct {
	MsgSize int           `json:"msg_size"`
	Rate    float64       `json:"rate_msgs_per_s"`
	Seconds float64       `json:"seconds"` // each latency run
	Nodes   []GrowthNodes `json:"nodes,omitempty"`
	// History is one catch-up run per history size (see CatchUpResult).
	History []CatchUpResult `json:"history,omitempty"`
}

// GrowthNodes is one cluster size: the latency run of package bench at the
// growth rate, Parley's and (unless skipped) the baseline's.
type GrowthNodes struct {
	Nodes    int         `json:"nodes"`
	Senders  int         `json:"senders"`
	Ours     RunSummary  `json:"ours"`
	Baseline *RunSummary `json:"baseline,omitempty"`
	// Memory per node: process RSS less the process before any node
	// started, divided by the nodes; idle and at the peak of the run.
	IdleRSSMBPerNode  float64 `json:"idle_rss_mb_per_node"`
	IdleHeapMBPerNode float64 `json:"idle_heap_mb_per_node"`
	RunRSSMBPerNode   float64 `json:"run_rss_mb_per_node"`
	IdleCPUPercent    float64 `json:"idle_cpu_percent_per_node"`
}

// runGrowth measures each cfg.GrowthNodes cluster with the latency run
// (measureSystem, no throughput) and each cfg.GrowthHistory size with the
// catch-up run.
func runGrowth(ctx context.Context, cfg *Config, res *Result, rng *rand.Rand, senders int, say func(string, ...any)) error {
	g := &Growth{MsgSize: cfg.MsgSize, Rate: cfg.Rate, Seconds: cfg.Duration.Seconds()}
	res.Growth = g
	base := res.Memory.ProcessBaseRSSMB
	for _, n := range cfg.GrowthNodes {
		c := *cfg
		c.Nodes, c.ThroughputSizes, c.SkipLatency = n, nil, false
		c.Senders = n
		if senders > 0 {
			c.Senders = min(senders, n)
		}
		if !c.InMemory {
			c.Dir = filepath.Join(cfg.Dir, fmt.Sprintf("growth-%d", n))
		}
		row, err := growNodes(ctx, &c, rng, base, say)
		if !c.InMemory {
			os.RemoveAll(c.Dir)
		}
		if err != nil {
			return fmt.Errorf("growth, %d nodes: %w", n, err)
		}
		g.Nodes = append(g.Nodes, row)
	}
	for _, m := range cfg.GrowthHistory {
		settle(0)
		say("growth: catch-up of %d messages: seeding", m)
		cu, err := catchUp(ctx, cfg, m)
		if err != nil {
			return fmt.Errorf("growth, catch-up %d: %w", m, err)
		}
		say("growth: catch-up of %d messages: %.2f s, %.1f MB RSS after, %.0f disk bytes per message", m, cu.Seconds, cu.RSSMB, cu.DiskBytesPerMsg)
		g.History = append(g.History, cu)
	}
	return nil
}

func growNodes(ctx context.Context, cfg *Config, rng *rand.Rand, baseRSSMB float64, say func(string, ...any)) (GrowthNodes, error) {
	row := GrowthNodes{Nodes: cfg.Nodes, Senders: cfg.Senders}
	scratch := &Result{}
	settle(0)
	say("growth: starting %d Parley nodes", cfg.Nodes)
	pc, topo, err := startParley(ctx, cfg, rng)
	if err != nil {
		return row, err
	}
	err = measureSystem(ctx, cfg, pc, scratch, false, say)
	pc.close()
	if err != nil {
		return row, err
	}
	n := float64(cfg.Nodes)
	m := scratch.Memory
	if cfg.Procs {
		baseRSSMB = 0 // the node processes' own RSS: no harness in them
	}
	row.Ours = scratch.Latency.Ours
	row.Ours.allMs, row.Ours.eachMs = nil, nil
	row.IdleRSSMBPerNode = max(m.ClusterIdleRSSMB*n-baseRSSMB, 0) / n
	row.IdleHeapMBPerNode = m.ClusterIdleHeapMB
	row.RunRSSMBPerNode = max(m.ClusterRunRSSMB*n-baseRSSMB, 0) / n
	row.IdleCPUPercent = m.IdleCPUPercent
	if cfg.SkipBaseline {
		return row, nil
	}
	settle(200 * time.Millisecond)
	say("growth: starting %d raw GossipSub hosts", cfg.Nodes)
	rc, err := startBaseline(ctx, cfg, topo)
	if err != nil {
		return row, err
	}
	err = measureSystem(ctx, cfg, rc, scratch, true, say)
	rc.close()
	if err != nil {
		return row, err
	}
	b := *scratch.Latency.Baseline
	b.allMs, b.eachMs = nil, nil
	row.Baseline = &b
	return row, nil
}
