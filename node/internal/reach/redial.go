package reach

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

const (
	maxRedialBackoff = 10 * time.Minute
	redialParallel   = 4
	rememberEvery    = 5 * time.Minute // how often one peer's record is rewritten
	maxRememberAddrs = 16
)

// redialer remembers the members we synced with (and inviters) across
// restarts and redials them: at start, periodically with backoff, and at
// once when our own addresses change (a new network).
type redialer struct {
	r *Reach

	mu    sync.Mutex
	peers map[peer.ID]*dialState
	kick  chan struct{}
}

type dialState struct {
	addrs    []ma.Multiaddr
	failures int
	next     time.Time
	saved    time.Time
}

func newRedialer(rc *Reach) *redialer {
	return &redialer{r: rc, peers: map[peer.ID]*dialState{}, kick: make(chan struct{}, 1)}
}

// load reads the remembered peers; start dials them.
func (r *redialer) load() []store.Peer {
	recs, err := r.r.cfg.Store.Peers()
	if err != nil {
		r.r.log.Warn("load remembered peers", "err", err)
	}
	r.mu.Lock()
	for _, rec := range recs {
		id, err := peer.IDFromBytes(rec.ID)
		if err != nil {
			continue
		}
		r.peers[id] = &dialState{addrs: parseAddrs(rec.Addrs), saved: time.UnixMilli(rec.LastSeenMs)}
	}
	r.mu.Unlock()
	return recs
}

// remember records a peer and its addresses (inviter, or a member we synced with).
func (r *redialer) remember(ai peer.AddrInfo) {
	if ai.ID == r.r.cfg.Self || ai.ID == "" {
		return
	}
	now := time.Now()
	r.mu.Lock()
	ds, ok := r.peers[ai.ID]
	if !ok {
		ds = &dialState{}
		r.peers[ai.ID] = ds
	}
	if len(ai.Addrs) > 0 {
		ds.addrs = ai.Addrs
	}
	ds.failures, ds.next = 0, time.Time{}
	if now.Sub(ds.saved) < rememberEvery {
		r.mu.Unlock()
		return
	}
	ds.saved = now
	addrs := ds.addrs
	r.mu.Unlock()
	rec := store.Peer{ID: []byte(ai.ID), LastSeenMs: now.UnixMilli()}
	for i, a := range addrs {
		if i == maxRememberAddrs {
			break
		}
		rec.Addrs = append(rec.Addrs, a.Bytes())
	}
	if err := r.r.cfg.Store.PutPeer(rec); err != nil {
		r.r.log.Warn("remember peer", "peer", ai.ID, "err", err)
	}
}

func (r *redialer) rememberConnected(p peer.ID) {
	r.remember(peer.AddrInfo{ID: p, Addrs: r.r.cfg.Host.PeerAddrs(p)})
}

func (r *redialer) loop(ctx context.Context) {
	sub, err := r.r.cfg.Host.Libp2p().EventBus().Subscribe(new(event.EvtLocalAddressesUpdated))
	var addrChanged <-chan any
	if err == nil {
		defer sub.Close()
		addrChanged = sub.Out()
	}
	every := r.r.cfg.RedialEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	r.round(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kick:
		case _, ok := <-addrChanged:
			if !ok {
				addrChanged = nil
				continue
			}
			// A network change: forget backoffs and try everyone now.
			r.mu.Lock()
			for _, ds := range r.peers {
				ds.failures, ds.next = 0, time.Time{}
			}
			r.mu.Unlock()
		}
		r.round(ctx)
	}
}

func (r *redialer) round(ctx context.Context) {
	now := time.Now()
	type target struct {
		ai peer.AddrInfo
		ds *dialState
	}
	var todo []target
	r.mu.Lock()
	for id, ds := range r.peers {
		if len(ds.addrs) == 0 || now.Before(ds.next) || r.r.cfg.Host.IsConnected(id) {
			continue
		}
		todo = append(todo, target{peer.AddrInfo{ID: id, Addrs: ds.addrs}, ds})
	}
	r.mu.Unlock()
	sem := make(chan struct{}, redialParallel)
	var wg sync.WaitGroup
	for _, t := range todo {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := r.r.cfg.Host.Connect(ctx, t.ai, p2p.SourceDirect)
			cancel()
			r.mu.Lock()
			if err != nil {
				t.ds.failures++
				backoff := min(time.Duration(1<<min(t.ds.failures, 10))*time.Second, maxRedialBackoff)
				t.ds.next = time.Now().Add(backoff)
			} else {
				t.ds.failures = 0
			}
			r.mu.Unlock()
		}()
	}
	wg.Wait()
}
