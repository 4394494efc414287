package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/internal/reach"
	"github.com/parley-chat/parley/node/internal/syncproto"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// lockWait is how long New waits for the store's lock: a CLI command that
// reads the store while no node runs holds it briefly.
const lockWait = 10 * time.Second

// Node is a Parley messenger: a profile's store and identity, a libp2p host
// and the groups joined on it. New composes it, Start runs it, Close stops
// it and closes what New opened.
type Node struct {
	*Local
	cfg  config
	log  *slog.Logger
	id   Identity
	key  crypto.PrivKey
	pub  []byte // marshalled public key: the author field of our messages
	self peer.ID

	// verifier checks others' signatures for gossip and sync alike, so a
	// batch checked on one path costs hashes only on the other.
	verifier *envelope.Verifier
	// beforeAnswer, when set (tests), runs in sendBatch once a batch is
	// stored and published, before its senders are answered.
	beforeAnswer atomic.Pointer[func(*group)]

	// memberKey is our key in membership logs (the Ed25519 identity).
	memberKey membership.Key
	st        *store.Store
	host      *p2p.Host // nil until Start

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	started bool
	closing bool // set by Close; guards goOwned
	groups  map[store.GroupID]*group

	events events
	drops  dropCounters
	sync   *syncproto.Syncer // nil until Start (and in relay mode)
	reach  *reach.Reach      // nil until Start (and in relay mode)

	counters counters    // totals for metrics (counters.go)
	files    *fileState  // files.go
	dm       dmState     // direct messages: conversations, blocks, offer outbox (dm.go)
	receipts receiptBook // ux: members' latest receipts (delivery.go)
	idx      indexer     // synced messages' search postings, written later (indexlater.go)
}

// New composes a node from a profile directory: it opens the store in
// dir/store (waiting up to 10 s for another process's lock, then failing
// with store.ErrLocked), and loads or creates the identity kept there
// (EnsureIdentity). Nothing runs yet: no goroutine of the node's, no
// listening. With WithInMemoryStore, dir is ignored.
func New(dir string, opts ...Option) (*Node, error) {
	c := defaultConfig()
	for _, o := range opts {
		o(&c)
	}
	sopts := append([]store.Option{store.WithLogger(c.logger)}, c.storeOpts...)
	var st *store.Store
	var err error
	if c.store != nil {
		st = c.store
	} else if c.inMemory {
		st, err = store.Open("", append(sopts, store.InMemory())...)
	} else {
		if dir == "" {
			return nil, fmt.Errorf("%w: no profile directory", ErrInvalidInput)
		}
		st, err = store.Open(StoreDir(dir), append(sopts, store.WithLockWait(lockWait))...)
	}
	if err != nil {
		return nil, err
	}
	closeStore := func() {
		if c.store == nil {
			st.Close()
		}
	}
	id, err := ensureIdentity(st, c.displayName, c.key)
	if err != nil {
		closeStore()
		return nil, err
	}
	pub, err := crypto.MarshalPublicKey(id.Key.GetPublic())
	if err != nil {
		closeStore()
		return nil, err
	}
	mid, err := id.memberIdentity()
	if err != nil {
		closeStore()
		return nil, err
	}
	c.displayName = id.Name
	fs, err := openFiles(c, dir)
	if err != nil {
		closeStore()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Node{
		Local: NewLocal(st, id.ID), cfg: c, log: c.logger.With("component", "node"), id: id, key: id.Key, pub: pub,
		self: id.ID, memberKey: mid.Key(), st: st, ctx: ctx, cancel: cancel, groups: map[store.GroupID]*group{},
		files: fs, idx: newIndexer(), verifier: envelope.NewVerifier(),
	}
	n.events.init()
	n.Local.uxHooks = uxHooks{known: n.knownSeqs, deliveryOf: n.decorateDelivery, onRead: n.readMoved}
	return n, nil
}

// StoreDir is where New keeps the store of profile directory dir.
func StoreDir(dir string) string { return filepath.Join(dir, "store") }

// Start builds the host (listening, discovery), joins the stored groups and
// starts sync and reachability. ctx bounds the start only.
func (n *Node) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.closing {
		n.mu.Unlock()
		return ErrClosed
	}
	if n.started {
		n.mu.Unlock()
		return errors.New("node: already started")
	}
	n.started = true
	n.mu.Unlock()

	popts := []p2p.Option{p2p.WithIdentity(n.key), p2p.WithLogger(n.cfg.logger)}
	if !n.cfg.inMemory && n.cfg.store == nil {
		// The profile's port; a taken port falls back to a random one,
		// except for a relay, whose address others are given.
		var fallback []string
		if !n.cfg.relay {
			fallback = p2p.DefaultListenAddrs(0)
		}
		popts = append(popts, p2p.WithListenAddrs(p2p.DefaultListenAddrs(n.id.Port), fallback))
	}
	if n.cfg.relay {
		popts = append(popts, p2p.WithMDNS(false), p2p.WithRelayService(true))
	} else {
		// A group's topic is told only to peers that proved membership of
		// that group (onMember, admit.go).
		popts = append(popts, p2p.WithPubSubGate(true))
	}
	h, err := p2p.New(ctx, append(popts, n.cfg.p2pOpts...)...)
	if err != nil {
		return err
	}
	if h.ID() != n.self {
		h.Close()
		return errors.New("node: host identity differs from profile identity")
	}
	if n.cfg.relay {
		n.mu.Lock()
		n.host = h
		n.mu.Unlock()
		return nil
	}
	sy := syncproto.New(syncproto.Config{
		Self: n.self, Store: n.st, Net: h, Groups: n.syncGroups, Ingest: n.ingestSynced, Verifier: n.verifier,
		OnProgress: func(p syncproto.Progress) { n.events.publish(Event{Type: EventSync, Group: p.Group, Sync: &p}) },
		OnDrop:     n.drops.count,
		OnMember:   n.onMember,
		Interval:   n.cfg.syncInterval, Log: n.log,
	})
	rc := reach.New(reach.Config{
		Self: n.self, Host: h, Store: n.st, RedialEvery: n.cfg.redialEvery, RendezvousEvery: n.cfg.rendezvous,
		Targets: n.rendezvousTargets, Log: n.log,
	})
	// Published together under the lock: whoever sees the host sees the parts.
	n.mu.Lock()
	n.host, n.sync, n.reach = h, sy, rc
	n.mu.Unlock()
	h.SetStreamHandler(SyncProtocol, n.sync.Handle)
	h.SetStreamHandler(JoinProtocol, n.serveJoin)
	if err := n.dmStart(); err != nil {
		return err
	}
	h.OnConnectionChange(n.onConnectionChange)
	recs, err := n.st.Groups()
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if _, err := n.openGroup(rec); err != nil {
			return err
		}
	}
	n.startFiles()
	n.sync.Start()
	n.reach.Start()
	n.goOwned(n.maintainLoop)
	n.goOwned(n.receiptLoop)
	n.goOwned(func() { n.backfillSearch(n.ctx) }) // index messages stored before search existed
	n.goOwned(n.indexLoop)
	return nil
}

// goOwned runs fn on a goroutine that Close waits for, unless the node is
// closing: checking and registering under one lock keeps WaitGroup.Add from
// racing Close's Wait.
func (n *Node) goOwned(fn func()) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.goOwnedLocked(fn)
}

// kick wakes the goroutine that waits on ch (capacity 1) without waiting
// itself: a wake-up already pending covers this one. A nil ch is a no-op.
func kick(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// goOwnedLocked is goOwned for a caller holding n.mu.
func (n *Node) goOwnedLocked(fn func()) bool {
	if n.closing {
		return false
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

// ID is this node's peer id, which is also its author identity.
func (n *Node) ID() peer.ID { return n.self }

// Identity is the profile's identity the node runs as.
func (n *Node) Identity() Identity { return n.id }

// Host is the network layer (diagnostics and tests); nil before Start.
func (n *Node) Host() *p2p.Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.host
}

// Close stops everything Start started, waits for it, and closes the store.
func (n *Node) Close() error {
	var err error
	n.once.Do(func() {
		n.mu.Lock()
		n.closing = true
		n.mu.Unlock()
		n.cancel()
		if n.sync != nil {
			n.sync.Close()
		}
		if n.reach != nil {
			n.reach.Close() // saves bootstrap candidates: before the store closes
		}
		if n.host != nil {
			err = n.host.Close() // closes the topics: receive loops end
		}
		n.wg.Wait()
		n.closeFiles()
		n.events.close()
		if n.cfg.store == nil { // opened by New
			err = errors.Join(err, n.st.Close())
		}
	})
	return err
}

// onConnectionChange syncs every group the newly connected peer is known to
// be a member of (admit.go).
func (n *Node) onConnectionChange(p peer.ID, up bool) {
	n.events.publish(Event{Type: EventPeer, Peer: &PeerEvent{ID: p.String(), Connected: up}})
	if !up {
		return
	}
	n.dmOnConnect(p)
	for _, g := range n.allGroups() {
		if n.probe(p, g) {
			n.retryUnadmitted(g) // should the sync fail (admit.go)
		}
	}
}

// rendezvousTargets gives reach each group's namespaces for this epoch and
// the previous one (members whose clocks straddle midnight still meet).
func (n *Node) rendezvousTargets(now time.Time) []reach.Target {
	epoch := envelope.RendezvousEpochOf(now)
	gs := n.allGroups()
	out := make([]reach.Target, 0, len(gs))
	for _, g := range gs {
		out = append(out, reach.Target{
			Key:        g.keys.Topic,
			Namespaces: []string{envelope.RendezvousNS(g.rec.Secret, epoch), envelope.RendezvousNS(g.rec.Secret, epoch-1)},
			Connected:  len(g.topic.ListPeers()) > 0,
		})
	}
	return out
}

// maintainLoop runs the epoch timers of every group.
func (n *Node) maintainLoop() {
	if n.cfg.maintainEvery <= 0 {
		return
	}
	t := time.NewTicker(n.cfg.maintainEvery)
	defer t.Stop()
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
			n.maintainKeys(n.cfg.now())
			for _, g := range n.allGroups() {
				n.maintain(g)
			}
		}
	}
}
