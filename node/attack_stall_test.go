package node

import (
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/node/wirepb"
)

// A serving member that proves membership, reads the request, starts an
// answer and never finishes it used to hold the group's pull lock for the
// 30 s batch timeout, again at every pull. Now the puller gives up after
// StallTimeout, asks another member, and the next pull is not blocked.
func TestAttackStalledServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	v := newTestNode(t, "victim", "", attackOpts()...)
	h := newTestNode(t, "honest", "", attackOpts()...)
	m := newTestNode(t, "mallory", "", attackOpts()...)
	const stall = 2 * time.Second
	v.sync.SetLimits(syncproto.Limits{StallTimeout: stall}) // before any pull of v's starts
	gid := attackGroup(t, false, h, v, m)
	gv, _ := v.group(gid)
	gm, _ := m.group(gid)
	gh, _ := h.group(gid)

	stalling := make(chan struct{}, 16)
	m.Host().SetStreamHandler(SyncProtocol, func(st network.Stream) {
		defer st.Reset()
		var hello wirepb.SyncHello
		if pbio.NewDelimitedReader(st, syncproto.MaxHelloSize).ReadMsg(&hello) != nil {
			return
		}
		remote := st.Conn().RemotePeer()
		w := pbio.NewDelimitedWriter(st)
		w.WriteMsg(&wirepb.SyncHelloReply{Version: WireVersion, Ok: true, Proof: gm.keys.SyncProof("resp", []byte(remote), []byte(m.ID()), hello.Nonce)})
		var req wirepb.SyncRequest
		if pbio.NewDelimitedReader(st, syncproto.MaxRequestSize).ReadMsg(&req) != nil {
			return
		}
		st.Write([]byte{0xe8, 0x07, 0x0a}) // a 1000-byte batch begins...
		stalling <- struct{}{}
		<-ctx.Done() // ...and never ends
	})

	// h holds a message v lacks (stored, not gossiped: only sync carries it).
	hidden := func(text string) *verified { return storeUnpublished(t, ctx, h, gh, text) }

	// 1. A pull from mallory stalls; v gives up within the bound and asks h.
	first := hidden("first")
	start := time.Now()
	v.sync.Request(m.ID(), gv.sync)
	<-stalling
	waitFor(t, "v to get h's message after mallory stalled", func() bool { return holds(t, v, gv.rec.ID, first.ID) })
	if d := time.Since(start); d > stall+5*time.Second {
		t.Fatalf("v took %v to get past a stalled server (stall timeout %v)", d, stall)
	}

	// 2. While another pull from mallory stalls, a pull from h is not blocked past the bound.
	second := hidden("second")
	v.sync.Request(m.ID(), gv.sync)
	<-stalling
	start = time.Now()
	if _, err := pullNow(t, v, gid, h.ID()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > stall+3*time.Second {
		t.Fatalf("the pull from h waited %v behind a stalled server (stall timeout %v)", d, stall)
	}
	if !holds(t, v, gv.rec.ID, second.ID) {
		t.Fatal("v lacks h's second message after pulling from h")
	}
}
