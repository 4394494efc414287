package node

import (
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// A group's receipts stay about receiptFullRate per interval in all: each
// member's spacing grows with the group above that size.
func TestReceiptSpacingGrowsWithGroup(t *testing.T) {
	n := &Node{cfg: config{receiptEvery: 3 * time.Second}}
	for _, c := range []struct {
		members int
		want    time.Duration
	}{
		{1, 3 * time.Second}, {receiptFullRate, 3 * time.Second},
		{2 * receiptFullRate, 6 * time.Second}, {5 * receiptFullRate, 15 * time.Second},
	} {
		g := &group{members: map[peer.ID]string{}}
		for i := range c.members {
			g.members[peer.ID(fmt.Sprint(i))] = ""
		}
		if got := n.receiptSpacing(g); got != c.want {
			t.Errorf("%d members: spacing %v, want %v", c.members, got, c.want)
		}
	}
}
