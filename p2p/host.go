package p2p

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/event"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	drouting "github.com/libp2p/go-libp2p/p2p/discovery/routing"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// Defaults, in one place.
const (
	// DefaultMDNSService is the mDNS service name Parley nodes announce.
	DefaultMDNSService = "_parley._udp"
	// DefaultMaxMessageSize bounds one pubsub message.
	DefaultMaxMessageSize = 128 << 10
	// defaultQueue sizes pubsub's validation, outbound and subscription
	// queues: the defaults (32) drop messages under modest bursts.
	defaultQueue = 8192
	pingInterval = 20 * time.Second
	dialTimeout  = 15 * time.Second
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("p2p: host closed")

type config struct {
	identity       crypto.PrivKey
	listen         []string
	fallbackListen []string
	mdns           bool
	mdnsService    string
	tlsCert        *tls.Certificate // for /tls/ws listeners (websocket.go)
	host           host.Host
	maxMessageSize int
	logger         *slog.Logger

	dhtMode      DHTMode
	bootstrap    []peer.AddrInfo
	staticRelays []peer.AddrInfo
	relayService bool
	pubsubGate   bool // gate.go
	nat          bool
	extraGater   connmgr.ConnectionGater // withGater (cutoff.go)
	connLow      int
	connHigh     int
	peerRate     float64
	peerBurst    int

	metrics metricsConfig // metrics.go
}

// Option configures New.
type Option func(*config)

// WithIdentity sets the host's private key (required unless WithHost is used).
func WithIdentity(k crypto.PrivKey) Option { return func(c *config) { c.identity = k } }

// WithListenAddrs sets the multiaddrs to listen on. If listening fails (a
// port taken by another node, say), the host retries on fallback addresses.
func WithListenAddrs(addrs []string, fallback []string) Option {
	return func(c *config) { c.listen, c.fallbackListen = addrs, fallback }
}

// WithMDNS turns LAN discovery on or off (default on).
func WithMDNS(on bool) Option { return func(c *config) { c.mdns = on } }

// WithMDNSService sets the mDNS service name (tests isolate themselves with it).
func WithMDNSService(name string) Option { return func(c *config) { c.mdnsService = name } }

// WithHost uses an existing libp2p host (mocknet in tests) instead of
// building one. The Host takes ownership and closes it.
func WithHost(h host.Host) Option { return func(c *config) { c.host = h } }

// WithMaxMessageSize bounds pubsub messages.
func WithMaxMessageSize(n int) Option { return func(c *config) { c.maxMessageSize = n } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// DefaultListenAddrs returns TCP and QUIC on all interfaces at port.
func DefaultListenAddrs(port int) []string {
	return []string{
		fmt.Sprintf("/ip4/0.0.0.0/tcp/%d", port),
		fmt.Sprintf("/ip4/0.0.0.0/udp/%d/quic-v1", port),
		fmt.Sprintf("/ip6/::/tcp/%d", port),
		fmt.Sprintf("/ip6/::/udp/%d/quic-v1", port),
	}
}

// Source says how we came to know a peer.
type Source string

// Peer sources.
const (
	SourceMDNS      Source = "mdns"
	SourceDirect    Source = "direct"
	SourceDHT       Source = "dht"       // found by group rendezvous in the DHT
	SourceBootstrap Source = "bootstrap" // a configured bootstrap peer
)

// Host is a running libp2p node with pubsub.
type Host struct {
	h   host.Host
	ps  *pubsub.PubSub
	log *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	bootWG sync.WaitGroup // the bootstrap loop, which Close waits for before closing the DHT
	once   sync.Once

	flood    *floodGuard
	scores   *scoreBook
	bans     *banList // peers cut off for a graylisted score (cutoff.go)
	bootKick chan struct{}

	mu           sync.Mutex
	closing      bool // set by Close; guards goOwned
	sources      map[peer.ID]Source
	topics       map[string]*Topic
	connSubs     []func(peer.ID, bool)
	addrSubs     []func() // OnAddrsChanged (roam.go)
	dht          *dht.IpfsDHT
	disc         *drouting.RoutingDiscovery
	bootstrap    []peer.AddrInfo
	staticRelays []peer.AddrInfo
	punched      map[peer.ID]bool
	reach        Reachability

	rsvp *reservations // relay slots held whatever AutoNAT says (reserve.go)
	gate *pubsubGate   // nil unless WithPubSubGate (gate.go)
}

// New starts a host.
func New(ctx context.Context, opts ...Option) (*Host, error) {
	c := config{mdns: true, mdnsService: DefaultMDNSService, maxMessageSize: DefaultMaxMessageSize, logger: slog.Default(),
		nat: true, connLow: ConnLowWater, connHigh: ConnHighWater, peerRate: DefaultPeerRate, peerBurst: DefaultPeerBurst}
	for _, o := range opts {
		o(&c)
	}
	if c.relayService && c.dhtMode == DHTAuto {
		c.dhtMode = DHTServer
	}
	log := c.logger.With("component", "p2p")
	hh := &Host{log: log, sources: map[peer.ID]Source{}, topics: map[string]*Topic{},
		flood: newFloodGuard(c.peerRate, c.peerBurst), scores: newScoreBook(), bans: newBanList(), bootKick: make(chan struct{}, 1),
		bootstrap: mergeAddrInfos(nil, "", c.bootstrap...), staticRelays: mergeAddrInfos(nil, "", c.staticRelays...),
		punched: map[peer.ID]bool{}, reach: ReachabilityUnknown, rsvp: newReservations()}
	if c.relayService {
		hh.reach = ReachabilityPublic
	}
	h := c.host
	if h == nil {
		if c.identity == nil {
			return nil, errors.New("p2p: no identity key")
		}
		listen := c.listen
		if len(listen) == 0 {
			listen = DefaultListenAddrs(0)
		}
		var err error
		if len(c.fallbackListen) > 0 && !portsFree(listen) {
			// libp2p binds with SO_REUSEPORT, so a port another node holds
			// would be shared (splitting its inbound connections) rather
			// than refused: check with plain listeners first.
			log.Info("listen ports taken, using fallback addresses", "listen", listen, "fallback", c.fallbackListen)
			listen = c.fallbackListen
		}
		h, err = hh.newLibp2pHost(&c, listen)
		if err != nil && len(c.fallbackListen) > 0 {
			log.Info("listen failed, using fallback addresses", "err", err, "fallback", c.fallbackListen)
			h, err = hh.newLibp2pHost(&c, c.fallbackListen)
		}
		if err != nil {
			return nil, fmt.Errorf("p2p: start host: %w", err)
		}
	}
	hctx, cancel := context.WithCancel(context.Background())
	hh.mu.Lock()
	hh.h, hh.ctx, hh.cancel = h, hctx, cancel
	hh.mu.Unlock()
	// A relay runs no pubsub: it joins no group, and a GossipSub peer is
	// told every topic its neighbours subscribe to (threat-model.md).
	if !c.relayService {
		var psHost host.Host = h
		if c.pubsubGate {
			g, err := newPubsubGate(h)
			if err != nil {
				cancel()
				h.Close()
				return nil, fmt.Errorf("p2p: pubsub gate: %w", err)
			}
			sub, err := h.EventBus().Subscribe([]any{new(event.EvtPeerIdentificationCompleted), new(event.EvtPeerProtocolsUpdated)})
			if err != nil {
				cancel()
				h.Close()
				return nil, fmt.Errorf("p2p: pubsub gate: %w", err)
			}
			hh.gate, psHost = g, gatedHost{Host: h, g: g, ctx: hctx}
			hh.wg.Add(1)
			go func() {
				defer hh.wg.Done()
				g.forward(hctx, sub)
			}()
		}
		ps, err := pubsub.NewGossipSub(hctx, psHost, append(PubSubOptions(c.maxMessageSize),
			// GossipSub v1.1 scoring: see score.go.
			pubsub.WithPeerScore(peerScoreParams(hh.flood.score), peerScoreThresholds()),
			pubsub.WithPeerScoreInspect(hh.scores.inspect, time.Second),
			pubsub.WithRawTracer(meshTracer{hh.scores}),
		)...)
		if err != nil {
			cancel()
			h.Close()
			return nil, fmt.Errorf("p2p: start gossipsub: %w", err)
		}
		hh.ps = ps
	}
	h.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(n network.Network, cn network.Conn) {
			hh.connOpened(n, cn)
			hh.checkOlderConns(cn)
			hh.notifyConn(cn.RemotePeer(), true)
		},
		DisconnectedF: func(n network.Network, cn network.Conn) { hh.disconnected(n, cn.RemotePeer()) },
	})
	hh.wg.Add(1)
	go hh.watchReachability()
	if err := hh.startDHT(c.dhtMode); err != nil {
		hh.Close()
		return nil, err
	}
	// Discovery never stops the host from starting: mDNS comes and goes
	// with the network interfaces (lanwatch.go).
	hh.wg.Add(3)
	go hh.lanWatch(c.mdns, c.mdnsService)
	go hh.pingLoop()
	go hh.cutOffLoop()
	if c.nat && !c.relayService && c.host == nil {
		hh.wg.Add(1)
		go hh.reserveLoop()
	}
	return hh, nil
}

func (hh *Host) newLibp2pHost(c *config, listen []string) (host.Host, error) {
	res, err := resourceOptions(c)
	if err != nil {
		return nil, err
	}
	tpts, err := transportOptions(c, listen)
	if err != nil {
		return nil, err
	}
	opts := append([]libp2p.Option{
		libp2p.Identity(c.identity),
		libp2p.ListenAddrStrings(listen...),
		libp2p.DefaultSecurity,
		libp2p.ChainOptions(tpts...),
		libp2p.DefaultMuxers,
		libp2p.Ping(true),
		libp2p.WithDialTimeout(dialTimeout),
		libp2p.ConnectionGater(hh.gater(c)),
		libp2p.AddrsFactory(hh.addrsFactory),
	}, res...)
	return libp2p.New(append(append(opts, hh.natOptions(c)...), metricsOptions(c)...)...)
}

// ID is this host's peer id.
func (h *Host) ID() peer.ID { return h.h.ID() }

// Libp2p exposes the underlying host (for tests and diagnostics).
func (h *Host) Libp2p() host.Host { return h.h }

// Addrs returns the host's full addresses, /p2p/<id> included.
func (h *Host) Addrs() []ma.Multiaddr {
	addrs, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: h.h.ID(), Addrs: h.h.Addrs()})
	if err != nil {
		return nil
	}
	return addrs
}

// ListenAddrs returns the transport addresses the host listens on (no /p2p).
func (h *Host) ListenAddrs() []ma.Multiaddr { return h.h.Addrs() }

// Connect dials a peer (a no-op if already connected) and records how we know it.
func (h *Host) Connect(ctx context.Context, ai peer.AddrInfo, src Source) error {
	if ai.ID == h.h.ID() {
		return nil
	}
	// libp2p races dials over several addresses and returns on the first
	// success; cancelling the context then aborts the losers mid-handshake,
	// which can leave the remote side holding a dead ("ghost") connection.
	// So the dial gets its own context, cancelled by the caller's only
	// while it runs and left to expire by itself once it has succeeded.
	err := h.dial(ctx, ai)
	if err != nil && ctx.Err() == nil {
		// The direct path may be blocked (a censor, a firewall) whatever
		// AutoNAT says: try circuits through the relays we use. The
		// addresses just failed are in dial backoff, so only these go out.
		if circuits := h.fallbackCircuits(ai.ID); len(circuits) > 0 {
			h.log.Debug("direct dial failed, trying relays", "peer", ai.ID, "err", err, "circuits", circuits)
			if rerr := h.dial(ctx, peer.AddrInfo{ID: ai.ID, Addrs: circuits}); rerr == nil {
				err = nil
			} else {
				err = fmt.Errorf("%w; through relays: %w", err, rerr)
			}
		}
	}
	if err != nil {
		return err
	}
	h.noteSource(ai.ID, src)
	return nil
}

// dial connects to ai on a context of its own (see Connect).
func (h *Host) dial(ctx context.Context, ai peer.AddrInfo) error {
	dctx, dcancel := context.WithTimeout(h.ctx, dialTimeout)
	stop := context.AfterFunc(ctx, dcancel)
	err := h.h.Connect(dctx, ai)
	stop()
	if err != nil {
		dcancel()
		return err
	}
	time.AfterFunc(dialTimeout, dcancel)
	return nil
}

// goOwned runs fn on a goroutine that Close waits for, unless the host is
// closing: checking and registering under one lock keeps WaitGroup.Add from
// racing Close's Wait.
func (h *Host) goOwned(fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		fn()
	}()
	return true
}

// noteSource records how we came to know p, unless already known.
func (h *Host) noteSource(p peer.ID, src Source) {
	h.mu.Lock()
	if _, ok := h.sources[p]; !ok {
		h.sources[p] = src
	}
	h.mu.Unlock()
}

// OnConnectionChange registers fn to be called (in its own goroutine) when
// the first connection to a peer opens (true) or the last one closes (false).
func (h *Host) OnConnectionChange(fn func(p peer.ID, connected bool)) {
	h.mu.Lock()
	h.connSubs = append(h.connSubs, fn)
	h.mu.Unlock()
}

func (h *Host) notifyConn(p peer.ID, up bool) {
	h.mu.Lock()
	subs := append([]func(peer.ID, bool){}, h.connSubs...)
	h.mu.Unlock()
	for _, fn := range subs {
		if !h.goOwned(func() { fn(p, up) }) {
			return
		}
	}
}

func (h *Host) disconnected(n network.Network, p peer.ID) {
	if n.Connectedness(p) == network.Connected {
		return
	}
	h.mu.Lock()
	delete(h.punched, p)
	h.mu.Unlock()
	if h.gate != nil {
		h.gate.forget(p)
	}
	h.notifyConn(p, false)
}

// PeerInfo describes one connected peer.
type PeerInfo struct {
	ID      peer.ID
	Addrs   []ma.Multiaddr // remote addresses of open connections
	Source  Source
	Path    Path          // how it is reached: LAN, direct, hole-punched, relayed
	Latency time.Duration // 0 when not yet measured
	Score   float64       // GossipSub peer score (0 until first computed)
	// Throttled and Rejected count its forwarded messages dropped by the
	// rate limit and refused by a topic validator.
	Throttled, Rejected uint64
}

// Peers lists connected peers.
func (h *Host) Peers() []PeerInfo {
	var out []PeerInfo
	for _, p := range h.h.Network().Peers() {
		pi := PeerInfo{ID: p, Latency: h.h.Peerstore().LatencyEWMA(p), Source: SourceDirect}
		conns := h.h.Network().ConnsToPeer(p)
		for _, c := range conns {
			pi.Addrs = append(pi.Addrs, c.RemoteMultiaddr())
		}
		h.mu.Lock()
		if s, ok := h.sources[p]; ok {
			pi.Source = s
		}
		h.mu.Unlock()
		pi.Path = h.pathTo(p, conns, pi.Source)
		pi.Score, _ = h.scores.score(p)
		pi.Throttled, pi.Rejected = h.flood.stats(p)
		out = append(out, pi)
	}
	return out
}

// IsConnected reports whether a connection to p is open.
func (h *Host) IsConnected(p peer.ID) bool {
	return h.h.Network().Connectedness(p) == network.Connected
}

// PeerAddrs returns the addresses we know for p.
func (h *Host) PeerAddrs(p peer.ID) []ma.Multiaddr { return h.h.Peerstore().Addrs(p) }

// SetStreamHandler registers a protocol handler.
func (h *Host) SetStreamHandler(id protocol.ID, fn network.StreamHandler) {
	h.h.SetStreamHandler(id, fn)
}

// NewStream opens a stream to p.
func (h *Host) NewStream(ctx context.Context, p peer.ID, id protocol.ID) (network.Stream, error) {
	return h.h.NewStream(ctx, p, id)
}

// pingLoop probes every connection each pingInterval: it measures latency
// for Peers and closes connections that no longer answer (roam.go), which a
// network change can leave looking open for many minutes.
func (h *Host) pingLoop() {
	defer h.wg.Done()
	t := time.NewTicker(pingInterval)
	defer t.Stop()
	h.pingAll()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
			h.pingAll()
		}
	}
}

func (h *Host) pingAll() {
	h.pruneConns(h.h.Network().Conns(), keepAliveTimeout, "keepalive")
}

// Close stops discovery, pubsub and the host, and waits for its goroutines.
func (h *Host) Close() error {
	var err error
	h.once.Do(func() {
		h.mu.Lock()
		topics := make([]*Topic, 0, len(h.topics))
		for _, t := range h.topics {
			topics = append(topics, t)
		}
		h.mu.Unlock()
		for _, t := range topics {
			t.Close()
		}
		h.mu.Lock()
		h.closing = true
		h.mu.Unlock()
		h.cancel()
		// The bootstrap loop calls into the DHT: it must have returned
		// before the DHT closes (kad-dht's Close writes what its
		// RefreshRoutingTable reads; the race detector caught the two).
		h.bootWG.Wait()
		if d := h.kad(); d != nil {
			d.Close()
		}
		err = h.h.Close()
		h.wg.Wait()
	})
	return err
}

// portsFree reports whether every fixed TCP and UDP port in addrs can be
// bound by a plain listener (port 0 always can).
func portsFree(addrs []string) bool {
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			continue // libp2p reports it
		}
		na, err := manet.ToNetAddr(m)
		if err != nil {
			continue
		}
		switch na := na.(type) {
		case *net.TCPAddr:
			if na.Port == 0 {
				continue
			}
			l, err := net.ListenTCP("tcp", na)
			if err != nil {
				return false
			}
			l.Close()
		case *net.UDPAddr:
			if na.Port == 0 {
				continue
			}
			l, err := net.ListenUDP("udp", na)
			if err != nil {
				return false
			}
			l.Close()
		}
	}
	return true
}
