package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/p2p"
)

// rawCluster is the baseline: plain libp2p hosts running GossipSub with
// package p2p's options (p2p.PubSubOptions, p2p.SubscribeOptions), one
// topic, no validator, no peer scoring, no encryption, no store; with
// Config.BaselineSign, GossipSub's own Ed25519 signatures (StrictSign).
type rawCluster struct {
	hosts  []host.Host
	topics []*pubsub.Topic
	subs   []*pubsub.Subscription
	mn     mocknet.Mocknet
	rec    atomic.Pointer[recorder]
	tap    func(key string, t time.Time) // as parleyCluster.tap
	seq    atomic.Uint64
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startRawCluster(ctx context.Context, cfg *Config, n int, topo topology) (*rawCluster, error) {
	c := newRawCluster(cfg)
	for i := range n {
		if err := c.addHost(cfg, i); err != nil {
			c.close()
			return nil, err
		}
	}
	if c.mn != nil {
		if err := c.mn.LinkAll(); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := dialEdges(ctx, topo.edges, func(ctx context.Context, a, b int) error {
		hb := c.hosts[b]
		return c.hosts[a].Connect(ctx, peer.AddrInfo{ID: hb.ID(), Addrs: hb.Addrs()})
	}); err != nil {
		c.close()
		return nil, err
	}
	// Ready when every host sees every connected peer on the topic.
	if err := waitUntil(ctx, 30*time.Second, "every baseline host sees its peers on the topic", func() bool {
		for i := range c.hosts {
			if !c.topicReady(i) {
				return false
			}
		}
		return true
	}); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func newRawCluster(cfg *Config) *rawCluster {
	pctx, cancel := context.WithCancel(context.Background())
	c := &rawCluster{ctx: pctx, cancel: cancel}
	if cfg.Net == NetMocknet {
		c.mn = mocknet.New()
	}
	return c
}

// addHost starts host i with its pubsub, topic and subscription.
func (c *rawCluster) addHost(cfg *Config, i int) error {
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return err
	}
	var h host.Host
	if c.mn != nil {
		h, err = c.mn.AddPeer(k, ma.StringCast(fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", 30000+i)))
	} else {
		h, err = libp2p.New(libp2p.Identity(k), libp2p.ListenAddrStrings(loopback),
			libp2p.DefaultSecurity, libp2p.DefaultTransports, libp2p.DefaultMuxers, libp2p.Ping(true))
	}
	if err != nil {
		return err
	}
	c.hosts = append(c.hosts, h)
	opts := p2p.PubSubOptions(p2p.DefaultMaxMessageSize)
	if cfg.BaselineSign {
		// After p2p's options, which turn signing off: the later wins.
		opts = append(opts, pubsub.WithMessageSignaturePolicy(pubsub.StrictSign), pubsub.WithMessageAuthor(h.ID()))
	}
	ps, err := pubsub.NewGossipSub(c.ctx, h, opts...)
	if err != nil {
		return err
	}
	t, err := ps.Join("bench")
	if err != nil {
		return err
	}
	sub, err := t.Subscribe(p2p.SubscribeOptions()...)
	if err != nil {
		return err
	}
	c.topics = append(c.topics, t)
	c.subs = append(c.subs, sub)
	c.wg.Add(1)
	go c.receive(c.ctx, len(c.hosts)-1, h.ID(), sub)
	return nil
}

// topicReady reports whether host i sees every peer it is connected to on
// the topic.
func (c *rawCluster) topicReady(i int) bool {
	return len(c.topics[i].ListPeers()) >= len(c.hosts[i].Network().Peers())
}

func (c *rawCluster) receive(ctx context.Context, i int, self peer.ID, sub *pubsub.Subscription) {
	defer c.wg.Done()
	for {
		m, err := sub.Next(ctx)
		if err != nil {
			return
		}
		if m.ReceivedFrom == self || len(m.Data) < 8 {
			continue
		}
		t := time.Now()
		key := strconv.FormatUint(binary.BigEndian.Uint64(m.Data), 10)
		if c.tap != nil {
			c.tap(key, t)
		}
		if r := c.rec.Load(); r != nil {
			r.deliver(i, key, t)
		}
	}
}

func (c *rawCluster) size() int               { return len(c.hosts) }
func (c *rawCluster) setRecorder(r *recorder) { c.rec.Store(r) }

// send publishes a fresh slice (pubsub keeps it) holding a unique sequence
// number, so content-hash ids never collide.
func (c *rawCluster) send(ctx context.Context, from, size int) (string, error) {
	seq := c.seq.Add(1)
	data := make([]byte, size)
	binary.BigEndian.PutUint64(data, seq)
	if err := c.topics[from].Publish(ctx, data); err != nil {
		return "", err
	}
	return strconv.FormatUint(seq, 10), nil
}

func (c *rawCluster) close() {
	for _, s := range c.subs {
		s.Cancel()
	}
	c.cancel()
	for _, t := range c.topics {
		t.Close()
	}
	for _, h := range c.hosts {
		h.Close()
	}
	c.wg.Wait()
	if c.mn != nil {
		c.mn.Close()
	}
}
