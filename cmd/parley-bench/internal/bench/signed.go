package bench

import (
	"context"
	"fmt"
	"time"
)

// Signed is the latency run and the throughput searches on GossipSub that
// signs and checks every message (Config.SignedBaseline), beside Parley's
// figures of the same run.
type Signed struct {
	Latency    *RunSummary        `json:"latency,omitempty"`
	Throughput []SignedThroughput `json:"throughput,omitempty"`
}

// SignedThroughput is the signed baseline's throughput figures at one size
// and Parley's ratios to them (of the medians).
type SignedThroughput struct {
	MsgSize  int          `json:"msg_size"`
	ZeroLoss Figure       `json:"zero_loss"`
	P99Bound Figure       `json:"p99_bound"`
	Ratio    float64      `json:"ratio,omitempty"`
	P99Ratio float64      `json:"p99_bound_ratio,omitempty"`
	Steps    []RunSummary `json:"steps,omitempty"`
}

// measureSigned starts the signed baseline on topo, measures it as the raw
// one was, and sets Parley's ratios to it from res.
func measureSigned(ctx context.Context, cfg Config, topo topology, res *Result, say func(string, ...any)) (*Signed, error) {
	cfg.BaselineSign = true
	settle(200 * time.Millisecond)
	say("starting %d GossipSub hosts that sign every message", cfg.Nodes)
	sc, err := startBaseline(ctx, &cfg, topo)
	if err != nil {
		return nil, fmt.Errorf("signed baseline cluster: %w", err)
	}
	scratch := &Result{}
	err = measureSystem(ctx, &cfg, sc, scratch, true, say)
	sc.close()
	if err != nil {
		return nil, err
	}
	out := &Signed{}
	if l := scratch.Latency; l != nil && l.Baseline != nil {
		out.Latency = l.Baseline
	}
	for _, st := range scratch.Throughput {
		if st.BaselineZeroLoss == nil || st.BaselineP99Bound == nil {
			continue
		}
		t := SignedThroughput{MsgSize: st.MsgSize, ZeroLoss: *st.BaselineZeroLoss, P99Bound: *st.BaselineP99Bound, Steps: st.BaselineSteps}
		for _, ours := range res.Throughput {
			if ours.MsgSize == st.MsgSize {
				t.Ratio, t.P99Ratio = ratioOf(ours.Ours, t.ZeroLoss.Median), ratioOf(ours.OursP99, t.P99Bound.Median)
			}
		}
		out.Throughput = append(out.Throughput, t)
	}
	return out, nil
}
