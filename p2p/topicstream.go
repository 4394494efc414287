package p2p

import (
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	pb "github.com/libp2p/go-libp2p-pubsub/pb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The gate's topic filter (gate.go): what pubsub writes to a peer admitted
// to some topics only, stripped of every other topic.

// topicStream is pubsub's outbound stream to one peer, filtered by topic.
// Pubsub writes whole length-prefixed RPC frames; a frame naming only
// topics the peer is admitted to passes unchanged (found by a scan that
// decodes nothing else), any other is decoded, stripped of what concerns
// other topics and re-encoded.
type topicStream struct {
	network.Stream
	g *pubsubGate
	p peer.ID

	mu      sync.Mutex
	pending []byte              // a frame not yet complete
	subs    map[string]subState // what pubsub announced to p, and whether p was told

	dead atomic.Bool // failed or ended: pubsub drops the peer (revive)
}

// Read is pubsub's watch for the stream's end (it reads nothing else).
func (s *topicStream) Read(b []byte) (int, error) {
	n, err := s.Stream.Read(b)
	if err != nil {
		s.dead.Store(true)
	}
	return n, err
}

func (s *topicStream) Reset() error {
	s.dead.Store(true)
	return s.Stream.Reset()
}

func (s *topicStream) Close() error {
	s.dead.Store(true)
	return s.Stream.Close()
}

type subState struct{ want, told bool }

// maxFrame bounds a frame the filter holds (pubsub's own limit is the max
// message size plus framing; anything larger is passed through unread).
const maxFrame = 4 << 20

func (s *topicStream) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.g.allowsAll(s.p) && len(s.pending) == 0 {
		return s.Stream.Write(b)
	}
	buf := b
	if len(s.pending) > 0 {
		buf = append(s.pending, b...)
	}
	for len(buf) > 0 {
		size, k := binary.Uvarint(buf)
		if k < 0 || size > maxFrame {
			return 0, errBadFrame
		}
		if k == 0 || uint64(len(buf)-k) < size {
			break // the rest of the frame comes with the next write
		}
		if err := s.writeFrame(buf[:k+int(size)], k); err != nil {
			return 0, err
		}
		buf = buf[k+int(size):]
	}
	s.pending = append(s.pending[:0], buf...)
	return len(b), nil
}

var errBadFrame = errors.New("p2p: pubsub frame unreadable")

// writeFrame writes one RPC, without what p may not be told. framed is the
// RPC with its length prefix (k bytes): a clean one is written as it is,
// with no copy (pubsub writes one frame per Write, for every peer).
func (s *topicStream) writeFrame(framed []byte, k int) error {
	frame := framed[k:]
	clean := true
	err := scanTopics(frame, func(topic string, sub *bool) {
		ok := s.g.allowed(s.p, topic)
		clean = clean && ok
		if sub != nil {
			s.subs[topic] = subState{want: *sub, told: ok && *sub}
		}
	})
	if err != nil {
		return err
	}
	if clean {
		_, err := s.Stream.Write(framed)
		return err
	}
	var rpc pb.RPC
	if err := proto.Unmarshal(frame, &rpc); err != nil {
		return err
	}
	ok := func(t string) bool { return s.g.allowed(s.p, t) }
	rpc.Subscriptions = keep(rpc.Subscriptions, func(o *pb.RPC_SubOpts) bool { return ok(o.GetTopicid()) })
	rpc.Publish = keep(rpc.Publish, func(m *pb.Message) bool { return ok(m.GetTopic()) })
	if c := rpc.Control; c != nil {
		c.Ihave = keep(c.Ihave, func(m *pb.ControlIHave) bool { return ok(m.GetTopicID()) })
		c.Graft = keep(c.Graft, func(m *pb.ControlGraft) bool { return ok(m.GetTopicID()) })
		c.Prune = keep(c.Prune, func(m *pb.ControlPrune) bool { return ok(m.GetTopicID()) })
	}
	if rpc.Partial != nil && !ok(rpc.Partial.GetTopicID()) {
		rpc.Partial = nil
	}
	out, err := proto.Marshal(&rpc)
	if err != nil || len(out) == 0 {
		return err
	}
	return s.writeRPC(out)
}

func (s *topicStream) writeRPC(frame []byte) error {
	out := binary.AppendUvarint(make([]byte, 0, len(frame)+binary.MaxVarintLen64), uint64(len(frame)))
	_, err := s.Stream.Write(append(out, frame...))
	return err
}

// announceHeld tells p the subscriptions held back from it that it may now
// be told (it was admitted to their topics since).
func (s *topicStream) announceHeld() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rpc pb.RPC
	for t, st := range s.subs {
		if st.want && !st.told && s.g.allowed(s.p, t) {
			rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Topicid: proto.String(t), Subscribe: proto.Bool(true)})
			s.subs[t] = subState{want: true, told: true}
		}
	}
	if len(rpc.Subscriptions) == 0 {
		return
	}
	out, err := proto.Marshal(&rpc)
	if err != nil {
		return
	}
	// Pubsub sets a deadline before each of its own writes; the last one
	// may have passed.
	_ = s.Stream.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if s.writeRPC(out) != nil {
		s.Stream.Reset() // a half-written frame would corrupt the stream
	}
}

func keep[T any](xs []T, ok func(T) bool) []T {
	out := xs[:0]
	for _, x := range xs {
		if ok(x) {
			out = append(out, x)
		}
	}
	return out
}

// scanTopics calls fn with every topic an RPC frame names: subscriptions
// (with sub set), messages, IHAVE, GRAFT, PRUNE and partial messages.
func scanTopics(rpc []byte, fn func(topic string, sub *bool)) error {
	return eachField(rpc, func(num protowire.Number, v []byte) error {
		switch num {
		case 1: // SubOpts
			var topic string
			var sub, seen bool
			err := eachFieldVarint(v, func(n protowire.Number, b []byte, x uint64) {
				switch n {
				case 1:
					sub = x != 0
				case 2:
					topic, seen = string(b), true
				}
			})
			if err == nil && seen {
				fn(topic, &sub)
			}
			return err
		case 2: // Message
			return topicField(v, 4, fn)
		case 3: // ControlMessage: IHAVE, GRAFT and PRUNE name a topic
			return eachField(v, func(n protowire.Number, b []byte) error {
				if n == 1 || n == 3 || n == 4 {
					return topicField(b, 1, fn)
				}
				return nil
			})
		case 10: // PartialMessagesExtension
			return topicField(v, 1, fn)
		}
		return nil
	})
}

// topicField calls fn with field num of message b as a topic, if present.
func topicField(b []byte, num protowire.Number, fn func(string, *bool)) error {
	return eachFieldVarint(b, func(n protowire.Number, v []byte, _ uint64) {
		if n == num && v != nil {
			fn(string(v), nil)
		}
	})
}

// eachField calls fn with every length-delimited field of message b.
func eachField(b []byte, fn func(protowire.Number, []byte) error) error {
	return eachFieldVarintErr(b, func(n protowire.Number, v []byte, _ uint64) error {
		if v == nil {
			return nil
		}
		return fn(n, v)
	})
}

// eachFieldVarint calls fn with every length-delimited (v) and varint (x)
// field of message b.
func eachFieldVarint(b []byte, fn func(n protowire.Number, v []byte, x uint64)) error {
	return eachFieldVarintErr(b, func(n protowire.Number, v []byte, x uint64) error {
		fn(n, v, x)
		return nil
	})
}

func eachFieldVarintErr(b []byte, fn func(n protowire.Number, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, k := protowire.ConsumeTag(b)
		if k < 0 {
			return protowire.ParseError(k)
		}
		b = b[k:]
		var err error
		switch typ {
		case protowire.BytesType:
			v, m := protowire.ConsumeBytes(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			if v == nil {
				v = []byte{}
			}
			err, k = fn(num, v, 0), m
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return protowire.ParseError(m)
			}
			err, k = fn(num, nil, x), m
		default:
			k = protowire.ConsumeFieldValue(num, typ, b)
			if k < 0 {
				return protowire.ParseError(k)
			}
		}
		if err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}
