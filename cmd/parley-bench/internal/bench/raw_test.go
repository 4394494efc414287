package bench

import (
	"context"
	"testing"
	"time"
)

// TestBaselineSign: --baseline-sign must really make the baseline sign (p2p's
// options turn signing off, and a later option only wins if it comes after
// them), and the plain baseline must not.
func TestBaselineSign(t *testing.T) {
	for _, sign := range []bool{false, true} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cfg := Defaults()
		cfg.Net, cfg.BaselineSign = NetMocknet, sign
		c, err := startRawCluster(ctx, &cfg, 2, newTopology(2, 6, newRand(1)))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		sub, err := c.topics[1].Subscribe()
		if err != nil {
			t.Fatal(err)
		}
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
		if sign {
			if from := m.GetFrom(); from != c.hosts[0].ID() {
				t.Errorf("signed message from %v, want the publisher %v", from, c.hosts[0].ID())
			}
		}
		sub.Cancel()
		c.close()
		cancel()
	}
}
