package reach

import (
	"cmp"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/p2p"
)

// Group rendezvous in the DHT.
//
// Members of a group find each other beyond the LAN by providing, and
// looking up the providers of, a DHT key that only members can compute:
//
//	ns(epoch) = hex(HKDF-SHA256(secret, info "parley/v1/rendezvous/<epoch>"))
//	epoch     = unix time / 24 h
//
// (the DHT key is SHA-256 of ns, as go-libp2p's routing discovery makes it).
// A DHT node sees a random-looking key that changes daily and the peers that
// provide it: it cannot tell which group, topic or name the key stands for,
// nor link one day's key to the next. Each node provides and looks up both
// the current and the previous epoch, so members whose clocks straddle
// midnight still meet.
const (
	rendezvousEpoch   = envelope.RendezvousEpoch
	readvertiseEvery  = time.Hour
	rendezvousTTL     = 2 * rendezvousEpoch
	rendezvousOpLimit = 30 * time.Second
	// A failed round is retried after rendezvousRetry (or the interval, if
	// shorter), doubling per failure up to maxRendezvousRetry while the DHT
	// routing table is empty, up to the interval otherwise.
	rendezvousRetry    = 5 * time.Second
	maxRendezvousRetry = 5 * time.Minute
	// How long a wake waits for kad-dht to put a newly connected server in
	// its routing table.
	wakeWait = 5 * time.Second
	// A group with members connected is looked up this many times less often.
	connectedLookupFactor = 10
	rendezvousParallel    = 4
	rendezvousDials       = 8
)

// Target is one group as rendezvous sees it: no secret, only the strings
// to provide and look up.
type Target struct {
	Key        string   // stable and unique per group (when it was last looked up)
	Namespaces []string // this epoch's and the previous one's (envelope.RendezvousNS)
	Connected  bool     // a member is connected: look up less often
}

type rendezvous struct {
	r     *Reach
	every time.Duration
	now   func() time.Time
	kickc chan struct{}

	failing atomic.Bool // the last round failed: retrying with backoff
	waking  atomic.Bool // a wake is waiting for the routing table

	mu         sync.Mutex
	advertised map[string]time.Time             // ns -> last successful advertisement
	looked     map[string]time.Time             // group topic -> last lookup
	retry      func(failures int) time.Duration // tests; nil: retryDelay
}

func newRendezvous(rc *Reach, every time.Duration) *rendezvous {
	return &rendezvous{r: rc, every: every, now: time.Now, kickc: make(chan struct{}, 1),
		advertised: map[string]time.Time{}, looked: map[string]time.Time{}}
}

// kick runs a round now (a group was added).
func (r *rendezvous) kick() {
	if r == nil {
		return
	}
	select {
	case r.kickc <- struct{}{}:
	default:
	}
}

// readvertise provides every namespace afresh at once: our addresses
// changed (a roaming laptop) and the DHT records hold the old ones.
func (r *rendezvous) readvertise() {
	r.mu.Lock()
	clear(r.advertised)
	r.mu.Unlock()
	r.kick()
}

// wake runs a round soon if rounds are failing: a DHT server has just been
// connected, so the routing table is about to have a peer. Without it a node
// that has backed off for minutes would wait that long after its bootstrap
// peer came back.
func (r *rendezvous) wake() {
	if r == nil || !r.failing.Load() || !r.waking.CompareAndSwap(false, true) {
		return
	}
	started := r.r.goOwned(func(ctx context.Context) {
		defer r.waking.Store(false)
		// kad-dht adds the server to its routing table on its own goroutine,
		// after the identify event that woke us: give it a moment rather
		// than fail once more and back off again.
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		deadline := time.Now().Add(wakeWait)
		for r.r.cfg.Host.DHTPeers() == 0 && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		r.kick()
	})
	if !started {
		r.waking.Store(false)
	}
}

func (r *rendezvous) loop(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.kickc:
			// A new group (look it up at once), or a DHT peer after failed
			// rounds: retry now, and back off afresh if it still fails.
			failures = 0
		}
		next := r.every
		ok, err := r.round(ctx)
		if errors.Is(err, p2p.ErrNoDHT) {
			r.r.log.Debug("no DHT: rendezvous off")
			return
		}
		if ok {
			failures = 0
		} else {
			failures++
			next = r.retryAfter(failures)
		}
		r.failing.Store(!ok)
		t.Reset(next)
	}
}

func (r *rendezvous) retryAfter(failures int) time.Duration {
	r.mu.Lock()
	f := r.retry
	r.mu.Unlock()
	if f != nil {
		return f(failures)
	}
	return retryDelay(r.every, failures, r.r.cfg.Host.DHTPeers() > 0)
}

// retryDelay is the wait after the given number of failed rounds in a row.
// With no DHT peer at all no round can succeed: retrying every few seconds
// forever would only burn work, so the delay doubles up to
// maxRendezvousRetry (a kick starts over). With peers, a failure is likely
// passing and the delay stays within the normal interval.
func retryDelay(every time.Duration, failures int, havePeers bool) time.Duration {
	d := min(every, rendezvousRetry) << min(max(failures-1, 0), 16)
	d = min(d, maxRendezvousRetry)
	if havePeers {
		d = min(d, every)
	}
	return d
}

// round advertises and looks up every group whose time has come. It
// reports whether every advertisement is in place, and an advertising
// error.
func (r *rendezvous) round(ctx context.Context) (bool, error) {
	now := r.now()
	sem := make(chan struct{}, rendezvousParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := true
	var firstErr error
	for _, g := range r.r.cfg.Targets(now) {
		lookup := r.lookupDue(g, now)
		for _, ns := range g.Namespaces {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if err := r.advertise(ctx, ns, now); err != nil {
					mu.Lock()
					ok = false
					firstErr = cmp.Or(firstErr, err)
					mu.Unlock()
				}
				if lookup {
					r.lookup(ctx, ns)
				}
			}()
		}
	}
	wg.Wait()
	return ok, firstErr
}

func (r *rendezvous) lookupDue(g Target, now time.Time) bool {
	every := r.every
	if g.Connected {
		every *= connectedLookupFactor
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.looked[g.Key]) < every {
		return false
	}
	r.looked[g.Key] = now
	return true
}

func (r *rendezvous) advertise(ctx context.Context, ns string, now time.Time) error {
	r.mu.Lock()
	last, done := r.advertised[ns]
	r.mu.Unlock()
	if done && now.Sub(last) < readvertiseEvery {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, rendezvousOpLimit)
	defer cancel()
	if err := r.r.cfg.Host.Advertise(ctx, ns, rendezvousTTL); err != nil {
		r.r.log.Debug("rendezvous advertise", "err", err)
		return err
	}
	r.mu.Lock()
	r.advertised[ns] = now
	for k, t := range r.advertised { // forget epochs long gone
		if now.Sub(t) > rendezvousTTL {
			delete(r.advertised, k)
		}
	}
	r.mu.Unlock()
	return nil
}

// lookup dials the providers of ns that we are not connected to. Once
// connected, a member is synced with like any other (the node syncs on connect).
func (r *rendezvous) lookup(life context.Context, ns string) {
	ctx, cancel := context.WithTimeout(life, rendezvousOpLimit)
	defer cancel()
	sem := make(chan struct{}, rendezvousDials)
	var wg sync.WaitGroup
	err := r.r.cfg.Host.FindPeers(ctx, ns, func(ai peer.AddrInfo) {
		if r.r.cfg.Host.IsConnected(ai.ID) || len(ai.Addrs) == 0 {
			return
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.r.cfg.Host.Connect(ctx, ai, p2p.SourceDHT); err != nil {
				r.r.log.Debug("rendezvous dial failed", "peer", ai.ID, "err", err)
			}
		}()
	})
	wg.Wait()
	if err != nil && life.Err() == nil {
		r.r.log.Debug("rendezvous lookup", "err", err)
	}
}

// RelayPeers returns the relays named in circuit addresses
// (<relay addr>/p2p/<relay>/p2p-circuit/...): an invite's relay addresses
// make the relay a bootstrap peer for the joiner.
func RelayPeers(addrs []ma.Multiaddr) []peer.AddrInfo {
	var out []peer.AddrInfo
	for _, a := range addrs {
		s := a.String()
		i := strings.Index(s, "/p2p-circuit")
		if i <= 0 {
			continue
		}
		ra, err := ma.NewMultiaddr(s[:i])
		if err != nil {
			continue
		}
		ai, err := peer.AddrInfoFromP2pAddr(ra)
		if err != nil {
			continue
		}
		out = append(out, *ai)
	}
	return out
}

// IsCircuit reports whether a is a relayed (/p2p-circuit) address.
func IsCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

// CmpBool orders false before true.
func CmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
