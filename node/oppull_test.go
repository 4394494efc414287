package node

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// A membership op whose parent op never came by gossip is held pending, and
// the node pulls from its connected members at once: with periodic sync off
// nothing else would fetch the parent (TestSilentMemberListed's flake, where
// b held its promotion pending on carol's lost rename).
//
// The promotion's message names as parents only messages b holds. Sent the
// usual way it would name the message carrying the rename too, and b's pull
// for a missing message parent (RequestGap) would fetch the rename without
// the op's pull: the test would pass with or without it.
func TestPendingOpPullsMissingParent(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	// No receipts: one from alice after the rename would name it as a
	// parent, and b's gap pull would fetch it.
	opts := append(attackOpts(), WithReceiptInterval(0))
	loss := &gossipLoss{}
	start := func(name string, wrap func(host.Host) host.Host) *testNode {
		h, key := mockHost(t, mn)
		return startTestNode(t, name, "", key, append([]Option{WithP2P(p2p.WithHost(wrap(h)))}, opts...)...)
	}
	plain := func(h host.Host) host.Host { return h }
	a := start("alice", plain)
	b := start("bob", func(h host.Host) host.Host { return lossyHost{Host: h, loss: loss} })
	c := start("carol", plain)
	linkAndConnectAll(t, mn, []*testNode{a, b, c})
	gid := attackGroup(t, false, a, b, c)
	ag, _ := a.group(gid)
	bg, _ := b.group(gid)
	cg, _ := c.group(gid)

	// A pull of b's still running from the set-up could bring the rename.
	waitFor(t, "b's pulls to finish", func() bool {
		for _, p := range b.sync.Progress() {
			if !p.Done {
				return false
			}
		}
		return true
	})
	// From here every gossip message carrying one of carol's reaches b lost.
	dropCarol := func(topic string, data []byte) bool {
		if topic != bg.topic.Name() {
			return false
		}
		raws, err := vtOpenEpoch(bg, data)
		if err != nil {
			return false
		}
		for _, raw := range raws {
			if v, err := decodeSigned(raw); err == nil && bytes.Equal(v.Msg.Author, c.pub) {
				return true
			}
		}
		return false
	}
	loss.drop.Store(&dropCarol)

	// A pull of b's that starts late (a set-up peer-join or admission
	// event handled late on a loaded machine) can still bring the rename:
	// then carol renames again, until b lacks the op's parent.
	var renameID store.MessageID
	var newName string
	for attempt := 1; ; attempt++ {
		newName = fmt.Sprintf("caroline%d", attempt)
		lost := loss.dropped.Load()
		if err := c.SetDisplayName(t.Context(), newName); err != nil {
			t.Fatal(err)
		}
		cg.sendMu.Lock()
		renameSeq := cg.nextSeq - 1
		cg.sendMu.Unlock()
		id, ok, err := c.st.AtSeq(cg.rec.ID, []byte(c.ID()), renameSeq)
		if err != nil || !ok {
			t.Fatalf("carol's rename message: %v %v", ok, err)
		}
		renameID = id
		waitFor(t, "a to see the rename", func() bool {
			return slices.Contains(memberNames(t, a, gid), newName+":member")
		})
		waitFor(t, "the rename's gossip to reach b and be lost", func() bool { return loss.dropped.Load() > lost })
		if !holds(t, b, bg.rec.ID, renameID) && !slices.Contains(memberNames(t, b, gid), newName+":member") {
			break
		}
		if attempt == 5 {
			t.Fatalf("b got each of carol's renames before the promotion: nothing for the pull to do (pulls %+v, counters %+v)",
				b.sync.Progress(), b.Counters())
		}
	}
	syncedBefore := b.Counters().MessagesReceivedSync

	// Alice promotes b: the op's parent is the rename.
	self, err := a.id.memberIdentity()
	if err != nil {
		t.Fatal(err)
	}
	ag.mem.mu.Lock()
	op, err := ag.mem.log.Promote(self, b.memberKey, membership.RoleAdmin, a.cfg.now())
	ag.mem.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	heads, err := b.st.Heads(bg.rec.ID, MaxParents)
	if err != nil {
		t.Fatal(err)
	}
	m := craft(t, a, ag, "")
	reserveSeq(ag, m)
	m.Parents = nil
	for _, h := range heads {
		m.Parents = append(m.Parents, append([]byte(nil), h[:]...))
	}
	// craft's Lamport is above a's messages, but a head of b's (b's own
	// join, say) may not have reached a's store yet.
	bStats, err := b.st.GroupStats(bg.rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	m.Lamport = max(m.Lamport, bStats.MaxLamport+1)
	m.Body = &wirepb.Body{Kind: &wirepb.Body_Membership{Membership: &wirepb.Membership{Op: op.Encode()}}}
	publishRaw(t, a, ag, m)

	waitForOr(t, "b to see itself admin", func() bool {
		for _, mi := range mustList(t, b, gid) {
			if mi.Self && mi.Role == "admin" {
				return true
			}
		}
		return false
	}, func() string {
		bg.mem.mu.Lock()
		pending := len(bg.mem.pending)
		bg.mem.mu.Unlock()
		return fmt.Sprintf("b: %d ops pending, holds the rename %v, pulls %+v, drops %v, counters %+v",
			pending, holds(t, b, bg.rec.ID, renameID), b.sync.Progress(), b.Drops(), b.Counters())
	})
	// The promotion applies only after its parent op; the rename's message
	// and the name it sets follow within the same pull (the name through
	// the member records, written after the op applies).
	waitFor(t, "b to hold carol's rename and show her new name", func() bool {
		return holds(t, b, bg.rec.ID, renameID) && slices.Contains(memberNames(t, b, gid), newName+":member")
	})
	if got := b.Counters().MessagesReceivedSync; got <= syncedBefore {
		t.Fatalf("b's synced messages %d -> %d: the rename did not come by sync", syncedBefore, got)
	}
}

// gossipLoss is what a lossyHost loses: the published messages drop picks
// (none while drop is unset).
type gossipLoss struct {
	drop    atomic.Pointer[func(topic string, data []byte) bool]
	dropped atomic.Uint64
}

// lossyHost loses gossip on its way in: pubsub streams peers open to it are
// read through a filter that strips the messages loss picks from each RPC.
// Everything else (sync, control messages) passes.
type lossyHost struct {
	host.Host
	loss *gossipLoss
}

func isPubSubProto(id protocol.ID) bool {
	return isPubSub(id) || strings.HasPrefix(string(id), "/floodsub/")
}

func (h lossyHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.lossy(pid, handler))
}

func (h lossyHost) SetStreamHandlerMatch(pid protocol.ID, m func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, m, h.lossy(pid, handler))
}

func (h lossyHost) lossy(pid protocol.ID, handler network.StreamHandler) network.StreamHandler {
	if !isPubSubProto(pid) {
		return handler
	}
	return func(s network.Stream) {
		handler(&lossyStream{Stream: s, in: bufio.NewReader(s), loss: h.loss})
	}
}

// lossyStream hands pubsub the peer's length-prefixed RPC frames one by
// one, each stripped of what loss drops.
type lossyStream struct {
	network.Stream
	in   *bufio.Reader
	loss *gossipLoss
	out  []byte // the rest of the current frame
}

// lossyMaxFrame bounds what a frame's length prefix makes us allocate.
const lossyMaxFrame = 8 << 20

func (s *lossyStream) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		size, err := binary.ReadUvarint(s.in)
		if err != nil {
			return 0, err
		}
		if size > lossyMaxFrame {
			return 0, fmt.Errorf("pubsub frame of %d bytes", size)
		}
		frame := make([]byte, size)
		if _, err := io.ReadFull(s.in, frame); err != nil {
			return 0, err
		}
		s.out = s.loss.filter(frame)
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// filter is frame without the messages drop picks, length-prefixed again.
func (l *gossipLoss) filter(frame []byte) []byte {
	if drop := l.drop.Load(); drop != nil {
		var rpc pb.RPC
		if proto.Unmarshal(frame, &rpc) == nil {
			kept := make([]*pb.Message, 0, len(rpc.Publish))
			for _, m := range rpc.Publish {
				if (*drop)(m.GetTopic(), m.GetData()) {
					l.dropped.Add(1)
					continue
				}
				kept = append(kept, m)
			}
			if len(kept) < len(rpc.Publish) {
				rpc.Publish = kept
				if out, err := proto.Marshal(&rpc); err == nil {
					frame = out
				}
			}
		}
	}
	out := binary.AppendUvarint(make([]byte, 0, len(frame)+binary.MaxVarintLen64), uint64(len(frame)))
	return append(out, frame...)
}
