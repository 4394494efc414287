package node

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/p2p"
)

// Sync slots: sixteen streams that send one byte and stall used to hold
// all sixteen serving slots (for the 10 s hello timeout, again and again),
// so no member could sync. Now a peer holds at most PerPeer streams, a
// stream waits for its hello in a separate unproven slot with a short
// deadline, and members sync meanwhile.
func TestAttackSyncSlotsExhausted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	a := newTestNode(t, "alice", "", attackOpts()...)
	b := newTestNode(t, "bob", "", attackOpts()...)
	gid := attackGroup(t, false, a, b)
	const hello = time.Second
	a.sync.SetLimits(syncproto.Limits{HelloTimeout: hello})
	if _, err := a.Send(ctx, gid, "for bob"); err != nil {
		t.Fatal(err)
	}

	// The non-member: a bare host, no group secret.
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	x, err := p2p.New(ctx, p2p.WithIdentity(key), p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if err := x.Connect(ctx, a.addrInfo(), p2p.SourceDirect); err != nil {
		t.Fatal(err)
	}
	const streams = 20
	var open []network.Stream
	for range streams {
		st, err := x.NewStream(ctx, a.ID(), SyncProtocol)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Reset()
		if _, err := st.Write([]byte{1}); err != nil {
			t.Fatal(err)
		}
		open = append(open, st)
	}
	// Each stream is either refused at once (reset) or held waiting for
	// the rest of its hello; a read with a short deadline tells which.
	stalled := 0
	for _, st := range open {
		st.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		_, err := st.Read(make([]byte, 1))
		if timedOut(err) {
			stalled++
		}
	}
	t.Logf("%d of %d stalling streams held by a", stalled, streams)

	// Both members still sync with a, within a bound far below the hello timeout of old.
	start := time.Now()
	for _, n := range []*testNode{b, a} {
		var p = a
		if n == a {
			p = b
		}
		for {
			_, err := pullNow(t, n, gid, p.ID())
			if err == nil {
				break
			}
			if time.Since(start) > 3*time.Second {
				t.Fatalf("%s cannot sync while a non-member stalls %d streams: %v", n.cfg.displayName, streams, err)
			}
		}
	}
	waitFor(t, "b to hold a's message", func() bool { return len(texts(t, b, gid)) == 1 })
	if stalled > 2 {
		t.Fatalf("a held %d streams of one non-member peer, want at most 2", stalled)
	}
	if got := drop(a, syncproto.ErrBusy); got < streams-2 {
		t.Fatalf("sync-busy drops %d, want at least %d", got, streams-2)
	}
	// The streams a held are reset when their hello does not come in time.
	for _, st := range open {
		st.SetReadDeadline(time.Now().Add(hello + 2*time.Second))
		if _, err := st.Read(make([]byte, 1)); timedOut(err) {
			t.Fatal("a stalled stream outlived the hello deadline")
		}
	}
}

// timedOut reports a read that hit its deadline (the stream is still open).
func timedOut(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &te) && te.Timeout())
}
