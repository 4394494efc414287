package node

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/p2p"
)

// A wire tap: the bytes a node's GossipSub writes to each peer, captured
// below pubsub (on the streams the host hands it), decoded as the
// length-prefixed RPC frames a peer reads. What the tap sees is what the
// peer receives, before the transport's own encryption.

// tapped is one captured RPC frame, from the tapped node to a peer.
type tapped struct {
	to  peer.ID
	rpc *pb.RPC
}

type wireTap struct {
	mu      sync.Mutex
	streams []*tapStream
}

// frames decodes everything captured so far.
func (w *wireTap) frames(t testing.TB) []tapped {
	t.Helper()
	w.mu.Lock()
	streams := append([]*tapStream(nil), w.streams...)
	w.mu.Unlock()
	var out []tapped
	for _, s := range streams {
		s.mu.Lock()
		buf := append([]byte(nil), s.buf...)
		s.mu.Unlock()
		for len(buf) > 0 {
			size, k := binary.Uvarint(buf)
			if k <= 0 || uint64(len(buf)-k) < size {
				break // a frame still being written
			}
			var rpc pb.RPC
			if err := proto.Unmarshal(buf[k:k+int(size)], &rpc); err != nil {
				t.Fatalf("tapped frame to %s: %v", s.to, err)
			}
			out = append(out, tapped{to: s.to, rpc: &rpc})
			buf = buf[k+int(size):]
		}
	}
	return out
}

// published lists every message (topic and data) the tapped node sent.
func (w *wireTap) published(t testing.TB) []*pb.Message {
	var out []*pb.Message
	for _, f := range w.frames(t) {
		out = append(out, f.rpc.GetPublish()...)
	}
	return out
}

type tapHost struct {
	host.Host
	tap *wireTap
}

func isPubSub(id protocol.ID) bool { return strings.HasPrefix(string(id), "/meshsub/") }

// NewStream taps the streams pubsub opens: GossipSub writes to a peer only
// on the stream it opened to it.
func (h tapHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil || !isPubSub(s.Protocol()) {
		return s, err
	}
	ts := &tapStream{Stream: s, to: p}
	h.tap.mu.Lock()
	h.tap.streams = append(h.tap.streams, ts)
	h.tap.mu.Unlock()
	return ts, nil
}

type tapStream struct {
	network.Stream
	to  peer.ID
	mu  sync.Mutex
	buf []byte
}

func (s *tapStream) Write(b []byte) (int, error) {
	n, err := s.Stream.Write(b)
	s.mu.Lock()
	s.buf = append(s.buf, b[:n]...)
	s.mu.Unlock()
	return n, err
}

// mockHost adds a mocknet host with a fresh key.
func mockHost(t *testing.T, mn mocknet.Mocknet) (host.Host, crypto.PrivKey) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mn.AddPeer(key, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 10000+len(mn.Peers()))))
	if err != nil {
		t.Fatal(err)
	}
	return h, key
}

// tappedMockNodes is mockNodes whose every node's pubsub output is tapped.
func tappedMockNodes(t *testing.T, n int, opts ...Option) (mocknet.Mocknet, []*testNode, []*wireTap) {
	t.Helper()
	mn := mocknet.New()
	t.Cleanup(func() { mn.Close() })
	nodes := make([]*testNode, n)
	taps := make([]*wireTap, n)
	for i := range nodes {
		h, key := mockHost(t, mn)
		taps[i] = &wireTap{}
		nodes[i] = startTestNode(t, fmt.Sprintf("n%d", i), "", key,
			append([]Option{WithP2P(p2p.WithHost(tapHost{Host: h, tap: taps[i]}))}, opts...)...)
	}
	linkAndConnectAll(t, mn, nodes)
	return mn, nodes, taps
}
