package node

import (
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

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
	rendezvousEpoch   = 24 * time.Hour
	readvertiseEvery  = time.Hour
	rendezvousTTL     = 2 * rendezvousEpoch
	rendezvousOpLimit = 30 * time.Second
	rendezvousRetry   = 5 * time.Second
	// A group with members connected is looked up this many times less often.
	connectedLookupFactor = 10
	rendezvousParallel    = 4
	rendezvousDials       = 8
)

func rendezvousEpochOf(t time.Time) int64 { return t.Unix() / int64(rendezvousEpoch/time.Second) }

// rendezvousNS is the rendezvous string for a group secret and epoch.
func rendezvousNS(secret []byte, epoch int64) string {
	k, err := hkdf.Key(sha256.New, secret, nil, fmt.Sprintf("parley/v1/rendezvous/%d", epoch), 32)
	if err != nil {
		panic(err)
	}
	return "parley-rdv/" + hex.EncodeToString(k)
}

type rendezvous struct {
	n     *Node
	every time.Duration
	now   func() time.Time
	kickc chan struct{}

	mu         sync.Mutex
	advertised map[string]time.Time // ns -> last successful advertisement
	looked     map[string]time.Time // group topic -> last lookup
}

func newRendezvous(n *Node, every time.Duration) *rendezvous {
	return &rendezvous{n: n, every: every, now: time.Now, kickc: make(chan struct{}, 1),
		advertised: map[string]time.Time{}, looked: map[string]time.Time{}}
}

// start runs the rendezvous loop (nothing when the interval is 0).
func (r *rendezvous) start() {
	if r == nil || r.every <= 0 {
		return
	}
	r.n.wg.Add(1)
	go r.loop()
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

func (r *rendezvous) loop() {
	defer r.n.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-r.n.ctx.Done():
			return
		case <-t.C:
		case <-r.kickc:
			// A new group: look it up at once.
		}
		next := r.every
		if !r.round() {
			next = min(next, rendezvousRetry)
		}
		t.Reset(next)
	}
}

// round advertises and looks up every group whose time has come. It
// reports whether every advertisement is in place.
func (r *rendezvous) round() bool {
	now := r.now()
	epoch := rendezvousEpochOf(now)
	sem := make(chan struct{}, rendezvousParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := true
	for _, g := range r.n.allGroups() {
		lookup := r.lookupDue(g, now)
		for _, e := range []int64{epoch, epoch - 1} {
			ns := rendezvousNS(g.rec.Secret, e)
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				if !r.advertise(ns, now) {
					mu.Lock()
					ok = false
					mu.Unlock()
				}
				if lookup {
					r.lookup(ns)
				}
			}()
		}
	}
	wg.Wait()
	return ok
}

func (r *rendezvous) lookupDue(g *group, now time.Time) bool {
	every := r.every
	if len(g.topic.ListPeers()) > 0 {
		every *= connectedLookupFactor
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.looked[g.keys.topic]) < every {
		return false
	}
	r.looked[g.keys.topic] = now
	return true
}

func (r *rendezvous) advertise(ns string, now time.Time) bool {
	r.mu.Lock()
	last, done := r.advertised[ns]
	r.mu.Unlock()
	if done && now.Sub(last) < readvertiseEvery {
		return true
	}
	ctx, cancel := context.WithTimeout(r.n.ctx, rendezvousOpLimit)
	defer cancel()
	if err := r.n.host.Advertise(ctx, ns, rendezvousTTL); err != nil {
		r.n.log.Debug("rendezvous advertise", "err", err)
		return false
	}
	r.mu.Lock()
	r.advertised[ns] = now
	for k, t := range r.advertised { // forget epochs long gone
		if now.Sub(t) > rendezvousTTL {
			delete(r.advertised, k)
		}
	}
	r.mu.Unlock()
	return true
}

// lookup dials the providers of ns that we are not connected to. Once
// connected, a member is synced with like any other (onConnectionChange).
func (r *rendezvous) lookup(ns string) {
	ctx, cancel := context.WithTimeout(r.n.ctx, rendezvousOpLimit)
	defer cancel()
	sem := make(chan struct{}, rendezvousDials)
	var wg sync.WaitGroup
	err := r.n.host.FindPeers(ctx, ns, func(ai peer.AddrInfo) {
		if r.n.host.IsConnected(ai.ID) || len(ai.Addrs) == 0 {
			return
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := r.n.host.Connect(ctx, ai, p2p.SourceDHT); err != nil {
				r.n.log.Debug("rendezvous dial failed", "peer", ai.ID, "err", err)
			}
		}()
	})
	wg.Wait()
	if err != nil && r.n.ctx.Err() == nil {
		r.n.log.Debug("rendezvous lookup", "err", err)
	}
}

// relayPeers returns the relays named in circuit addresses
// (<relay addr>/p2p/<relay>/p2p-circuit/...): an invite's relay addresses
// make the relay a bootstrap peer for the joiner.
func relayPeers(addrs []ma.Multiaddr) []peer.AddrInfo {
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

func isCircuit(a ma.Multiaddr) bool {
	_, err := a.ValueForProtocol(ma.P_CIRCUIT)
	return err == nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	default:
		return -1
	}
}
