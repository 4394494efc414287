package p2p

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/discovery"
	"github.com/libp2p/go-libp2p/core/peer"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	ma "github.com/multiformats/go-multiaddr"
)

// DHTMode selects this host's role in Parley's Kademlia DHT.
type DHTMode int

// DHT modes.
const (
	// DHTAuto is a client until AutoNAT finds the host publicly reachable,
	// then a server (the default).
	DHTAuto DHTMode = iota
	// DHTClient queries the DHT but never serves it.
	DHTClient
	// DHTServer always serves (relay and bootstrap nodes).
	DHTServer
	// DHTOff runs no DHT: no rendezvous beyond the LAN.
	DHTOff
)

// DHTProtocolPrefix keeps Parley's DHT apart from the public IPFS one: a
// Parley node neither serves nor queries IPFS peers.
const DHTProtocolPrefix = "/parley"

const (
	bootstrapEvery  = 30 * time.Second
	maxBootBackoff  = 5 * time.Minute
	rendezvousLimit = 64 // providers asked for per lookup
)

// ErrNoDHT is returned by rendezvous calls when the host runs no DHT.
var ErrNoDHT = errors.New("p2p: no DHT")

// WithDHT sets the DHT mode (default DHTAuto).
func WithDHT(m DHTMode) Option { return func(c *config) { c.dhtMode = m } }

// WithBootstrap adds bootstrap peers: the host keeps a connection to them
// and seeds its DHT routing table from them. There is no default list: a
// LAN-only node needs none and dials nothing beyond what it is given.
func WithBootstrap(peers ...peer.AddrInfo) Option {
	return func(c *config) { c.bootstrap = append(c.bootstrap, peers...) }
}

// ParseAddrInfos parses full multiaddrs (with /p2p/<id>) into peers; a
// string may hold several, separated by commas or spaces (a bridge line),
// merging addresses of the same peer.
func ParseAddrInfos(addrs []string) ([]peer.AddrInfo, error) {
	var mas []ma.Multiaddr
	for _, line := range addrs {
		// A bridge line (BridgeLine) is several addresses in one string.
		fields := strings.FieldsFunc(line, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
		if len(fields) == 0 {
			return nil, fmt.Errorf("p2p: empty address %q", line)
		}
		for _, s := range fields {
			a, err := ma.NewMultiaddr(s)
			if err != nil {
				return nil, fmt.Errorf("p2p: address %q: %w", s, err)
			}
			mas = append(mas, a)
		}
	}
	out, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("p2p: %w (a bootstrap or relay address must end in /p2p/<peer id>)", err)
	}
	return out, nil
}

func (h *Host) startDHT(mode DHTMode) error {
	if mode == DHTOff {
		return nil
	}
	m := dht.ModeAuto
	switch mode {
	case DHTClient:
		m = dht.ModeClient
	case DHTServer:
		m = dht.ModeServer
	}
	d, err := dht.New(h.h,
		dht.Mode(m),
		dht.ProtocolPrefix(DHTProtocolPrefix),
		dht.BootstrapPeersFunc(h.bootstrapPeers),
	)
	if err != nil {
		return fmt.Errorf("p2p: start dht: %w", err)
	}
	h.mu.Lock()
	h.dht = d
	h.disc = drouting.NewRoutingDiscovery(d)
	h.mu.Unlock()
	h.bootWG.Add(1)
	go h.bootstrapLoop()
	return nil
}

// AddBootstrap adds bootstrap peers at run time (learnt from an invite, say)
// and dials them soon.
func (h *Host) AddBootstrap(peers ...peer.AddrInfo) {
	h.mu.Lock()
	h.bootstrap = mergeAddrInfos(h.bootstrap, h.h.ID(), peers...)
	h.mu.Unlock()
	select {
	case h.bootKick <- struct{}{}:
	default:
	}
}

// mergeAddrInfos adds peers to dst, one entry per peer id: the addresses
// of a peer named more than once (`--bootstrap` given its TCP and its QUIC
// address, say) are merged, so that one dial sees them all and can pick the
// transport (libp2p prefers QUIC). Dialling each entry apart would connect
// over whichever came first, and a NATed host learns its external address
// only for the transport it is connected over: hole punching needs both
// sides to know one for the same transport. Empty ids and self are skipped.
func mergeAddrInfos(dst []peer.AddrInfo, self peer.ID, peers ...peer.AddrInfo) []peer.AddrInfo {
	for _, ai := range peers {
		if ai.ID == "" || ai.ID == self {
			continue
		}
		i := slices.IndexFunc(dst, func(b peer.AddrInfo) bool { return b.ID == ai.ID })
		if i < 0 {
			dst = append(dst, peer.AddrInfo{ID: ai.ID, Addrs: slices.Clone(ai.Addrs)})
			continue
		}
		for _, a := range ai.Addrs {
			if !slices.ContainsFunc(dst[i].Addrs, a.Equal) {
				dst[i].Addrs = append(dst[i].Addrs, a)
			}
		}
	}
	return dst
}

func (h *Host) bootstrapPeers() []peer.AddrInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.bootstrap)
}

// bootstrapLoop keeps connections to the bootstrap peers, with backoff, and
// refreshes the DHT routing table once one is reached.
// bootstrapDialers bounds concurrent bootstrap dials.
const bootstrapDialers = 4

func (h *Host) bootstrapLoop() {
	defer h.bootWG.Done()
	t := time.NewTicker(bootstrapEvery)
	defer t.Stop()
	failures := map[peer.ID]int{}
	next := map[peer.ID]time.Time{}
	refreshed := false
	for {
		now := time.Now()
		connected := 0
		var due []peer.AddrInfo
		for _, ai := range h.bootstrapPeers() {
			if h.IsConnected(ai.ID) {
				// The DHT may have dialled it first.
				h.noteSource(ai.ID, SourceBootstrap)
				connected++
				continue
			}
			if now.Before(next[ai.ID]) {
				continue
			}
			due = append(due, ai)
		}
		// A few dials at a time: remembered peers may be long gone, and
		// one at a time each dead one would hold the rest for dialTimeout.
		errs := make([]error, len(due))
		sem := make(chan struct{}, bootstrapDialers)
		var wg sync.WaitGroup
		for i, ai := range due {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				ctx, cancel := context.WithTimeout(h.ctx, dialTimeout)
				defer cancel()
				errs[i] = h.Connect(ctx, ai, SourceBootstrap)
			}()
		}
		wg.Wait()
		for i, ai := range due {
			if err := errs[i]; err != nil {
				failures[ai.ID]++
				next[ai.ID] = time.Now().Add(min(time.Duration(1<<min(failures[ai.ID], 10))*time.Second, maxBootBackoff))
				h.log.Debug("bootstrap dial failed", "peer", ai.ID, "err", err)
				continue
			}
			failures[ai.ID] = 0
			connected++
		}
		if connected > 0 && !refreshed {
			if d := h.kad(); d != nil {
				refreshed = true
				// Refresh in the background: it queries the network.
				d.RefreshRoutingTable()
			}
		}
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		case <-h.bootKick:
		}
	}
}

func (h *Host) kad() *dht.IpfsDHT {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.dht
}

func (h *Host) discovery() (*drouting.RoutingDiscovery, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.disc == nil {
		return nil, ErrNoDHT
	}
	return h.disc, nil
}

// Advertise announces in the DHT that this host is a provider for the
// rendezvous string ns, which the DHT sees only as a hash. It returns when
// the record is stored on the closest peers found.
func (h *Host) Advertise(ctx context.Context, ns string, ttl time.Duration) error {
	d, err := h.discovery()
	if err != nil {
		return err
	}
	_, err = d.Advertise(ctx, ns, discovery.TTL(ttl))
	return err
}

// FindPeers looks up providers of ns in the DHT and calls fn for each one
// found (ourselves excluded), until the lookup ends or ctx does.
func (h *Host) FindPeers(ctx context.Context, ns string, fn func(peer.AddrInfo)) error {
	d, err := h.discovery()
	if err != nil {
		return err
	}
	ch, err := d.FindPeers(ctx, ns, discovery.Limit(rendezvousLimit))
	if err != nil {
		return err
	}
	for ai := range ch {
		if ai.ID != h.h.ID() && ai.ID != "" {
			fn(ai)
		}
	}
	return ctx.Err()
}

// DHTPeers is the size of the DHT routing table (0 without a DHT).
func (h *Host) DHTPeers() int {
	if d := h.kad(); d != nil {
		return d.RoutingTable().Size()
	}
	return 0
}
