package reach

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// DHT bootstrap candidates, kept across restarts.
//
// The DHT fills its routing table from at least one reachable DHT server.
// Flags and config name some; an invite names the inviter's relays (in its
// /p2p-circuit addresses), which may be all that a member who joined from
// another network is ever told. kad-dht keeps its routing table in memory
// only (libp2p/go-libp2p-kad-dht#387), so the node remembers, in the store,
// the candidates it learns:
//
//   - the relays named in an invite it joins with (saved at once: a user may
//     join and quit);
//   - the relays named in remembered peers' circuit addresses (members
//     remembered before this list existed);
//   - every peer it connects to that serves Parley's DHT (a relay, a
//     publicly reachable member).
//
// At start the maxBootstrapPeers most recently seen are given to the host as
// bootstrap peers, in addition to flags and config. A candidate's last-seen
// time is refreshed while we are connected to it, so one gone for good ages
// out behind live ones. Remembered members that do not serve the DHT are not
// candidates: kad-dht keeps only servers in its routing table, so they
// cannot seed it, and the redialer dials them anyway.
const (
	maxBootstrapPeers  = 16
	bootstrapSaveEvery = 5 * time.Minute
)

// dhtProtocol is what a peer serving Parley's DHT announces (kad-dht names
// its protocol <prefix>/kad/1.0.0; DHT clients announce nothing).
var dhtProtocol = protocol.ID(p2p.DHTProtocolPrefix + "/kad/1.0.0")

type bootBook struct {
	r *Reach

	saveMu sync.Mutex // one save at a time, so an older list never lands last

	mu    sync.Mutex
	peers map[peer.ID]*bootCand
	dirty bool
}

type bootCand struct {
	addrs []ma.Multiaddr
	seen  time.Time
}

func newBootBook(r *Reach) *bootBook { return &bootBook{r: r, peers: map[peer.ID]*bootCand{}} }

// load reads the candidates (and the relays that remembered peers'
// addresses name) and hands the best to the host as bootstrap peers.
func (b *bootBook) load(remembered []store.Peer) {
	recs, err := b.r.cfg.Store.BootstrapPeers()
	if err != nil {
		b.r.log.Warn("load bootstrap peers", "err", err)
	}
	b.mu.Lock()
	for _, rec := range recs {
		id, err := peer.IDFromBytes(rec.ID)
		if err != nil || id == b.r.cfg.Self {
			continue
		}
		b.peers[id] = &bootCand{addrs: parseAddrs(rec.Addrs), seen: time.UnixMilli(rec.LastSeenMs)}
	}
	for _, rec := range remembered {
		for _, ai := range RelayPeers(parseAddrs(rec.Addrs)) {
			if _, ok := b.peers[ai.ID]; ok || ai.ID == b.r.cfg.Self {
				continue
			}
			b.peers[ai.ID] = &bootCand{addrs: ai.Addrs, seen: time.UnixMilli(rec.LastSeenMs)}
			b.dirty = true
		}
	}
	best := b.rankedLocked()
	b.mu.Unlock()
	if len(best) > 0 {
		infos := make([]peer.AddrInfo, len(best))
		for i, c := range best {
			infos[i] = c.ai
		}
		b.r.cfg.Host.AddBootstrap(infos...)
	}
}

// subscribe watches for DHT servers (the subscription is made before any
// goroutine runs, so no identification is missed).
func (b *bootBook) subscribe() event.Subscription {
	bus := b.r.cfg.Host.Libp2p().EventBus()
	sub, err := bus.Subscribe([]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated)})
	if err != nil {
		b.r.log.Warn("watch for DHT peers", "err", err)
		return nil
	}
	return sub
}

func (b *bootBook) loop(ctx context.Context, sub event.Subscription) {
	var evs <-chan any
	if sub != nil {
		defer sub.Close()
		evs = sub.Out()
	}
	t := time.NewTicker(bootstrapSaveEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			b.save() // the store closes only after Reach.Close
			return
		case <-t.C:
			b.save()
		case ev, ok := <-evs:
			if !ok {
				evs = nil
				continue
			}
			var p peer.ID
			switch e := ev.(type) {
			case event.EvtPeerIdentificationCompleted:
				if slices.Contains(e.Protocols, dhtProtocol) {
					p = e.Peer
				}
			case event.EvtPeerProtocolsUpdated: // a client turned server
				if slices.Contains(e.Added, dhtProtocol) {
					p = e.Peer
				}
			}
			if p == "" {
				continue
			}
			b.learn(time.Now(), peer.AddrInfo{ID: p, Addrs: b.r.cfg.Host.PeerAddrs(p)})
			b.r.rdv.wake()
		}
	}
}

// learnInvite makes the relays an invite names bootstrap peers, now and
// after a restart.
func (b *bootBook) learnInvite(relays []peer.AddrInfo) {
	if len(relays) == 0 {
		return
	}
	b.r.cfg.Host.AddBootstrap(relays...)
	b.learn(time.Now(), relays...)
	b.save()
}

func (b *bootBook) learn(now time.Time, ais ...peer.AddrInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, ai := range ais {
		if ai.ID == "" || ai.ID == b.r.cfg.Self {
			continue
		}
		c, ok := b.peers[ai.ID]
		if !ok {
			c = &bootCand{}
			b.peers[ai.ID] = c
		}
		c.seen = now
		if len(ai.Addrs) > 0 {
			c.addrs = ai.Addrs
		}
		b.dirty = true
	}
	if len(b.peers) > 4*maxBootstrapPeers { // a big DHT: keep memory bounded too
		b.trimLocked()
	}
}

// save refreshes the candidates we are connected to and writes the best
// maxBootstrapPeers, if anything changed.
func (b *bootBook) save() {
	b.saveMu.Lock()
	defer b.saveMu.Unlock()
	now := time.Now()
	b.mu.Lock()
	for id, c := range b.peers {
		if b.r.cfg.Host.IsConnected(id) {
			c.seen = now
			if a := b.r.cfg.Host.PeerAddrs(id); len(a) > 0 {
				c.addrs = a
			}
			b.dirty = true
		}
	}
	if !b.dirty {
		b.mu.Unlock()
		return
	}
	best := b.trimLocked()
	b.dirty = false
	b.mu.Unlock()
	recs := make([]store.Peer, 0, len(best))
	for _, c := range best {
		rec := store.Peer{ID: []byte(c.ai.ID), LastSeenMs: c.seen.UnixMilli()}
		for _, a := range c.ai.Addrs {
			rec.Addrs = append(rec.Addrs, a.Bytes())
		}
		recs = append(recs, rec)
	}
	if err := b.r.cfg.Store.PutBootstrapPeers(recs); err != nil {
		b.r.log.Warn("save bootstrap peers", "err", err)
		b.mu.Lock()
		b.dirty = true
		b.mu.Unlock()
	}
}

type rankedCand struct {
	ai   peer.AddrInfo
	seen time.Time
}

// rankedLocked returns the candidates with addresses, most recently seen
// first (ties by id, so the order is stable), at most maxBootstrapPeers,
// each with at most maxRememberAddrs addresses (circuit ones last).
func (b *bootBook) rankedLocked() []rankedCand {
	out := make([]rankedCand, 0, len(b.peers))
	for id, c := range b.peers {
		if len(c.addrs) == 0 {
			continue
		}
		addrs := slices.Clone(c.addrs)
		slices.SortStableFunc(addrs, func(a, b ma.Multiaddr) int { return CmpBool(IsCircuit(a), IsCircuit(b)) })
		out = append(out, rankedCand{peer.AddrInfo{ID: id, Addrs: addrs[:min(len(addrs), maxRememberAddrs)]}, c.seen})
	}
	slices.SortFunc(out, func(x, y rankedCand) int {
		return cmp.Or(y.seen.Compare(x.seen), cmp.Compare(x.ai.ID, y.ai.ID))
	})
	return out[:min(len(out), maxBootstrapPeers)]
}

// trimLocked forgets every candidate but the best and returns them.
func (b *bootBook) trimLocked() []rankedCand {
	best := b.rankedLocked()
	keep := make(map[peer.ID]*bootCand, len(best))
	for _, c := range best {
		keep[c.ai.ID] = b.peers[c.ai.ID]
	}
	b.peers = keep
	return best
}

func parseAddrs(bs [][]byte) []ma.Multiaddr {
	var out []ma.Multiaddr
	for _, b := range bs {
		if a, err := ma.NewMultiaddrBytes(b); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func (b *bootBook) has(p peer.ID) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	c, ok := b.peers[p]
	return ok && len(c.addrs) > 0
}
