package p2p

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipSub keeps a delivered message in its cache for several heartbeats
// to answer IWANTs. What the validator decoded must not stay with it: under
// load that was every opened bundle of the last five seconds, a third of a
// busy node's heap. Once the subscriber has the message, and drops it, the
// decoded value is garbage while the raw message is still cached.
func TestDecodedValueNotKeptByGossipCache(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), floodTimeout)
	defer cancel()
	h := newLoopbackHost(t)
	var freed atomic.Bool
	tp, err := h.Join("/parley/test/release", func(ctx context.Context, from peer.ID, data []byte) (Verdict, any) {
		decoded := &struct{ body [1 << 16]byte }{}
		runtime.AddCleanup(decoded, func(f *atomic.Bool) { f.Store(true) }, &freed)
		return Accept, decoded
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Publish(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-tp.Messages():
		if m.Decoded == nil {
			t.Fatal("the subscriber got no decoded value")
		}
	case <-ctx.Done():
		t.Fatal("message not delivered")
	}
	// The cache holds the message for its history window (three heartbeats,
	// 3 s); the decoded value must be collectable well before that.
	deadline := time.Now().Add(2 * time.Second)
	for !freed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the decoded value is still referenced after delivery (GossipSub's message cache holds it)")
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // let the cleanup goroutine run
	}
}
