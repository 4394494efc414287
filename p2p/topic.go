package p2p

import (
	"context"
	"errors"
	"fmt"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNoPubSub is returned by Join on a relay host, which runs no pubsub.
var ErrNoPubSub = errors.New("p2p: relay hosts run no pubsub")

// Verdict is a validator's answer for one pubsub message.
type Verdict = pubsub.ValidationResult

// Validator verdicts.
const (
	Accept = pubsub.ValidationAccept
	Reject = pubsub.ValidationReject // penalises the forwarding peer
	Ignore = pubsub.ValidationIgnore // drops without penalty (duplicates, say)
)

// Validator judges a message's bytes before it is delivered or forwarded.
// It may attach a decoded value with SetDecoded for the subscriber to use.
type Validator func(ctx context.Context, from peer.ID, data []byte) (Verdict, any)

// Message is a validated message delivered to a topic's subscriber.
type Message struct {
	From    peer.ID // the peer that forwarded it to us, not necessarily the author
	Data    []byte
	Decoded any // what the validator returned with Accept
	Local   bool
}

// Topic is a joined pubsub topic with a subscription.
type Topic struct {
	name   string
	host   *Host
	t      *pubsub.Topic
	sub    *pubsub.Subscription
	out    chan Message
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	watchers sync.WaitGroup
}

// Join joins topic name with validator v and starts delivering validated
// messages on Messages().
func (h *Host) Join(name string, v Validator) (*Topic, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return nil, ErrClosed
	}
	if h.ps == nil {
		return nil, ErrNoPubSub
	}
	if _, ok := h.topics[name]; ok {
		return nil, fmt.Errorf("p2p: topic %q already joined", name)
	}
	self := h.h.ID()
	// Every forwarded message passes the per-peer rate limit first (cheap,
	// never waits), then the caller's validator. Our own messages skip the limit.
	err := h.ps.RegisterTopicValidator(name, func(ctx context.Context, from peer.ID, m *pubsub.Message) pubsub.ValidationResult {
		if from != self && !h.flood.allow(from) {
			return Ignore
		}
		if v == nil {
			return Accept
		}
		verdict, decoded := v(ctx, from, m.Data)
		switch verdict {
		case Accept:
			m.ValidatorData = decoded
		case Reject:
			h.flood.rejected(from)
		}
		return verdict
		// Inline: run on pubsub's validation workers (one per CPU), not on
		// a goroutine started for each message. Validators here are CPU
		// work (decrypt, verify, in-memory lookups) that never waits on the
		// network; a goroutine each only added a spawn, a context with a
		// timer and a scheduler hop to every message at every hop.
	}, pubsub.WithValidatorInline(true))
	if err != nil {
		return nil, fmt.Errorf("p2p: register validator: %w", err)
	}
	t, err := h.ps.Join(name)
	if err != nil {
		h.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("p2p: join topic: %w", err)
	}
	if err := t.SetScoreParams(topicScoreParams()); err != nil {
		t.Close()
		h.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("p2p: topic score: %w", err)
	}
	sub, err := t.Subscribe(SubscribeOptions()...)
	if err != nil {
		t.Close()
		h.ps.UnregisterTopicValidator(name)
		return nil, fmt.Errorf("p2p: subscribe: %w", err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	tp := &Topic{name: name, host: h, t: t, sub: sub, out: make(chan Message, defaultQueue), ctx: ctx, cancel: cancel, done: make(chan struct{})}
	h.topics[name] = tp
	go tp.pump()
	return tp, nil
}

func (t *Topic) pump() {
	defer close(t.done)
	defer close(t.out)
	self := t.host.h.ID()
	for {
		m, err := t.sub.Next(t.ctx)
		if err != nil {
			return
		}
		msg := Message{From: m.ReceivedFrom, Data: m.Data, Decoded: m.ValidatorData, Local: m.ReceivedFrom == self}
		// GossipSub keeps m in its message cache for a few heartbeats (to
		// answer IWANTs), which needs only the raw bytes. Without this the
		// cache would also hold every decoded form (opened bundles, search
		// terms): about 20 MB per node at 2,000 msg/s. Only subscribers read
		// ValidatorData, and this is the topic's one subscription.
		m.ValidatorData = nil
		select {
		case t.out <- msg:
		case <-t.ctx.Done():
			return
		}
	}
}

// Messages delivers validated messages, our own included (Local), until Close.
func (t *Topic) Messages() <-chan Message { return t.out }

// Publish sends data to the topic. data must not be reused by the caller:
// pubsub keeps it while it is queued.
func (t *Topic) Publish(ctx context.Context, data []byte) error {
	if t.ctx.Err() != nil {
		return ErrClosed
	}
	return t.t.Publish(ctx, data)
}

// ListPeers returns the peers we know are subscribed to the topic.
func (t *Topic) ListPeers() []peer.ID { return t.t.ListPeers() }

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// OnPeerJoin calls fn (on one goroutine owned by the topic) each time a peer
// subscribes to the topic, until Close: the moment to exchange state with it.
func (t *Topic) OnPeerJoin(fn func(peer.ID)) error {
	eh, err := t.t.EventHandler()
	if err != nil {
		return err
	}
	t.watchers.Add(1)
	go func() {
		defer t.watchers.Done()
		defer eh.Cancel()
		for {
			ev, err := eh.NextPeerEvent(t.ctx)
			if err != nil {
				return
			}
			if ev.Type == pubsub.PeerJoin {
				fn(ev.Peer)
			}
		}
	}()
	return nil
}

// Close leaves the topic.
func (t *Topic) Close() error {
	t.cancel()
	t.sub.Cancel()
	<-t.done
	t.watchers.Wait()
	h := t.host
	h.mu.Lock()
	if h.topics[t.name] == t {
		delete(h.topics, t.name)
	}
	h.mu.Unlock()
	err := t.t.Close()
	if uerr := h.ps.UnregisterTopicValidator(t.name); uerr != nil && err == nil && !errors.Is(uerr, context.Canceled) {
		h.log.Debug("unregister validator", "topic", t.name, "err", uerr)
	}
	return err
}

// InMesh reports whether p is connected and in our GossipSub mesh for the
// topic (a peer whose score falls below zero is pruned from it).
func (t *Topic) InMesh(p peer.ID) bool {
	return t.host.IsConnected(p) && t.host.scores.inMesh(p, t.name)
}
