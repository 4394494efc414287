package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestBaselineSign: a baseline host with Config.BaselineSign (what
// --signed-baseline runs) must really sign: p2p's options turn signing off,
// and a later option only wins if it comes after them. A plain one must not.
func TestBaselineSign(t *testing.T) {
	for _, sign := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		t.Cleanup(cancel)
		cfg := Defaults()
		cfg.Net, cfg.BaselineSign = NetMocknet, sign
		c, err := startRawCluster(ctx, &cfg, 2, newTopology(2, 6, newRand(1)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.close)
		sub, err := c.topics[1].Subscribe()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(sub.Cancel)
		if _, err := c.send(ctx, 0, 64); err != nil {
			t.Fatal(err)
		}
		m, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("sign=%v: no message: %v", sign, err)
		}
		signed := len(m.Signature) > 0 && m.GetFrom() != ""
		if signed != sign {
			t.Errorf("sign=%v: message arrived with signature %d bytes, from %q", sign, len(m.Signature), m.GetFrom())
		}
		if sign && m.GetFrom() != c.hosts[0].ID() {
			t.Errorf("signed message from %v, want the publisher %v", m.GetFrom(), c.hosts[0].ID())
		}
	}
}

// TestRunTinySigned: --signed-baseline measures a third system after the
// raw baseline, whose hosts really sign, and reports Parley beside it.
func TestRunTinySigned(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real loopback nodes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cfg := tinyConfig()
	cfg.InMemory, cfg.SignedBaseline = true, true
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sg := res.Signed
	if sg == nil || sg.Latency == nil || len(sg.Throughput) != 1 {
		t.Fatalf("no signed baseline figures: %+v", sg)
	}
	if l := sg.Latency; l.Sent != 20 || l.Lost != 0 || l.AllMembers.Count != 20 || l.CPUPerMsgUs <= 0 {
		t.Errorf("signed latency run: sent %d, lost %d, %d latencies, %v us CPU per delivery", l.Sent, l.Lost, l.AllMembers.Count, l.CPUPerMsgUs)
	}
	st := sg.Throughput[0]
	if st.MsgSize != 256 || len(st.Steps) != 1 {
		t.Errorf("signed throughput: %+v", st)
	}
	if want := ratioOf(res.Throughput[0].Ours, st.ZeroLoss.Median); st.Ratio != want {
		t.Errorf("ratio to the signed baseline %v, want %v", st.Ratio, want)
	}
	var md strings.Builder
	res.WriteMarkdown(&md)
	if !strings.Contains(md.String(), "| measure | Parley | signed GossipSub | ratio |") || !strings.Contains(md.String(), "signed GossipSub msgs/s") {
		t.Errorf("report has no signed baseline tables:\n%s", md.String())
	}
	bad := Defaults()
	bad.SignedBaseline, bad.SkipBaseline = true, true
	if err := bad.fill(); !errors.Is(err, ErrConfig) {
		t.Errorf("--signed-baseline with --skip-baseline: %v, want ErrConfig", err)
	}
}
