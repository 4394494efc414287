package reach

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// Store is where reachability state survives restarts.
type Store interface {
	Peers() ([]store.Peer, error)
	PutPeer(p store.Peer) error
	BootstrapPeers() ([]store.Peer, error)
	PutBootstrapPeers(ps []store.Peer) error
}

// Config wires Reach to the host and the store.
type Config struct {
	Self  peer.ID
	Host  *p2p.Host
	Store Store
	// RedialEvery is how often remembered peers are redialled (<= 0: 30 s).
	RedialEvery time.Duration
	// RendezvousEvery is how often groups are looked up in the DHT
	// (0: rendezvous off).
	RendezvousEvery time.Duration
	// Targets lists the groups to provide and look up at now.
	Targets func(now time.Time) []Target
	Log     *slog.Logger
}

// Reach keeps a node reachable and reaching: it redials remembered peers,
// keeps DHT bootstrap candidates across restarts and meets group members
// through DHT rendezvous.
type Reach struct {
	cfg  Config
	log  *slog.Logger
	dial *redialer
	boot *bootBook
	rdv  *rendezvous

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	closing bool
	wg      sync.WaitGroup
}

// New returns a Reach; nothing runs until Start.
func New(cfg Config) *Reach {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Targets == nil {
		cfg.Targets = func(time.Time) []Target { return nil }
	}
	r := &Reach{cfg: cfg, log: cfg.Log}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	r.dial = newRedialer(r)
	r.boot = newBootBook(r)
	r.rdv = newRendezvous(r, cfg.RendezvousEvery)
	return r
}

// Start loads what the store remembers, gives the host its bootstrap peers
// and runs the redial, bootstrap and rendezvous loops until Close.
func (r *Reach) Start() {
	recs := r.dial.load()
	r.boot.load(recs)
	sub := r.boot.subscribe()
	r.goOwned(r.dial.loop)
	r.goOwned(func(ctx context.Context) { r.boot.loop(ctx, sub) })
	if r.rdv.every > 0 {
		r.goOwned(r.rdv.loop)
		// Provider records carry our addresses: renew them when they change.
		r.cfg.Host.OnAddrsChanged(r.rdv.readvertise)
	}
}

// Close stops the loops, saves the bootstrap candidates and waits.
func (r *Reach) Close() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

// goOwned runs fn on a goroutine that Close waits for, unless closing.
func (r *Reach) goOwned(fn func(ctx context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return false
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn(r.ctx)
	}()
	return true
}

// Remember records a peer to redial (an inviter, a member we synced with).
func (r *Reach) Remember(ai peer.AddrInfo) { r.dial.remember(ai) }

// RememberConnected records a connected peer with its current addresses.
func (r *Reach) RememberConnected(p peer.ID) { r.dial.rememberConnected(p) }

// LearnInvite makes the relays an invite names bootstrap peers, now and
// after a restart.
func (r *Reach) LearnInvite(relays []peer.AddrInfo) { r.boot.learnInvite(relays) }

// Kick runs a rendezvous round now (a group was added).
func (r *Reach) Kick() { r.rdv.kick() }

// BootstrapKnows reports whether p is a bootstrap candidate (tests).
func (r *Reach) BootstrapKnows(p peer.ID) bool { return r.boot.has(p) }

// SetRetry replaces the rendezvous retry delay after failed rounds (tests).
func (r *Reach) SetRetry(f func(failures int) time.Duration) {
	r.rdv.mu.Lock()
	defer r.rdv.mu.Unlock()
	r.rdv.retry = f
}

// RendezvousFailing reports whether the last rendezvous round failed.
func (r *Reach) RendezvousFailing() bool { return r.rdv.failing.Load() }

// Advertised is how many namespaces are advertised.
func (r *Reach) Advertised() int {
	r.rdv.mu.Lock()
	defer r.rdv.mu.Unlock()
	return len(r.rdv.advertised)
}
