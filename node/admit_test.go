package node

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
)

// Two members connected to each other whose sync handshakes fail (each
// resets every sync stream, as a node with no serving slot free does) for
// longer than the fast admission retries are admitted to each other's
// topic, and gossip flows, once handshakes work again: with no membership
// change, no reconnection and no periodic sync to ask again, only the slow
// retries that follow the fast ones do it.
func TestAdmissionRetriedAfterFastRetries(t *testing.T) {
	fast, every := admitRetries, admitRetryEvery
	admitRetries, admitRetryEvery = []time.Duration{time.Millisecond, time.Millisecond}, 20*time.Millisecond
	t.Cleanup(func() { admitRetries, admitRetryEvery = fast, every })

	ctx := context.Background()
	_, nodes := mockNodes(t, 2, WithSyncInterval(0))
	a, b := nodes[0], nodes[1]
	for _, n := range nodes {
		n.Host().SetStreamHandler(SyncProtocol, func(s network.Stream) { s.Reset() })
	}
	g, err := a.CreateGroup(ctx, "Busy", false)
	if err != nil {
		t.Fatal(err)
	}
	code, err := a.Invite(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Join(ctx, code); err != nil {
		t.Fatal(err)
	}
	// Well past the fast retries (a's start when it admits b, b's when it
	// joins): a keeps asking b.
	waitForOr(t, "a to have tried b ten times", func() bool { return a.sync.Pulls() >= 10 }, func() string {
		ga, _ := a.group(g.ID)
		gb, _ := b.group(g.ID)
		return fmt.Sprintf("pulls: a %d, b %d; retry loops running: a %v, b %v",
			a.sync.Pulls(), b.sync.Pulls(), ga.admitRetrying.Load(), gb.admitRetrying.Load())
	})
	ga, err := a.group(g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Host().PubSubTopicAdmitted(b.ID(), ga.topic.Name()) {
		t.Fatal("a admitted b with every sync refused")
	}
	for _, n := range nodes {
		n.Host().SetStreamHandler(SyncProtocol, n.sync.Handle)
	}
	waitTopicPeers(t, g.ID, a, b)
	if _, err := a.Send(ctx, g.ID, "through at last"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b to hold a's text", func() bool {
		for _, s := range texts(t, b, g.ID) {
			if s == "through at last" {
				return true
			}
		}
		return false
	})
}
