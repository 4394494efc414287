package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	msmux "github.com/multiformats/go-multistream"
)

// Roaming: a member's address changes (DHCP renew, Wi-Fi roam, a laptop
// moving between networks) and its open connections silently stop carrying
// traffic. Nothing tells either side: TCP retransmits for minutes, yamux's
// keepalive notices after 30-40 s. So:
//
//   - the roaming side (lanwatch.go notices the change within a poll)
//     closes at once every connection whose local address is gone, probes
//     the others, redials the peers left unconnected, re-announces by mDNS
//     (lanwatch restarts it) and tells OnAddrsChanged subscribers (DHT
//     rendezvous re-advertises);
//   - the other side probes its older connections to a peer as soon as a new
//     one opens, or as soon as mDNS announces addresses its connections do not
//     use, and closes those that do not answer, so that pubsub and new streams
//     move to the live connection;
//   - every connection is probed each pingInterval, so a dead one is noticed
//     and replaced even when nothing announces the change.
//
// A probe is a libp2p ping on a stream opened on that very connection
// (ping.Ping picks the peer's "best" connection, which may be the dead one).

const (
	// roamProbeTimeout bounds a probe made because something changed: a
	// live LAN or relayed connection answers in milliseconds.
	roamProbeTimeout = 3 * time.Second
	// keepAliveTimeout bounds the periodic probe: generous, so a busy
	// connection is not taken for dead.
	keepAliveTimeout = 10 * time.Second
	// redialTries is how often a peer left unconnected by a change is
	// redialled (the new network may need a moment to route).
	redialTries = 3
)

// errProbeMismatch: the echo was not what we sent.
var errProbeMismatch = errors.New("p2p: probe echo mismatch")

// OnAddrsChanged registers fn to be called (in its own goroutine) after the
// machine's addresses change, once dead connections have been dropped: the
// moment to re-advertise anything that carries this host's addresses.
func (h *Host) OnAddrsChanged(fn func()) {
	h.mu.Lock()
	h.addrSubs = append(h.addrSubs, fn)
	h.mu.Unlock()
}

// probeConn pings over a new stream on c itself and returns the round trip.
func (h *Host) probeConn(ctx context.Context, c network.Conn, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(network.WithAllowLimitedConn(ctx, "probe"), timeout)
	defer cancel()
	s, err := c.NewStream(ctx)
	if err != nil {
		return 0, err
	}
	defer s.Reset()
	stop := context.AfterFunc(ctx, func() { s.Reset() }) // unblocks negotiation and reads
	defer stop()
	if err := s.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := msmux.SelectProtoOrFail(protocol.ID(ping.ID), s); err != nil {
		if errors.Is(err, msmux.ErrNotSupported[protocol.ID]{}) {
			// A peer without the ping service answered the negotiation:
			// the connection carries traffic.
			return time.Since(start), nil
		}
		return 0, err
	}
	_ = s.SetProtocol(ping.ID)
	buf := make([]byte, 2*ping.PingSize)
	if _, err := rand.Read(buf[:ping.PingSize]); err != nil {
		return 0, err
	}
	start = time.Now()
	if _, err := s.Write(buf[:ping.PingSize]); err != nil {
		return 0, err
	}
	if _, err := io.ReadFull(s, buf[ping.PingSize:]); err != nil {
		return 0, err
	}
	if !bytes.Equal(buf[:ping.PingSize], buf[ping.PingSize:]) {
		return 0, errProbeMismatch
	}
	return time.Since(start), nil
}

// pruneConns probes conns concurrently and closes those that fail; it
// returns how many it closed.
func (h *Host) pruneConns(conns []network.Conn, timeout time.Duration, why string) int {
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		closed int
		hit    = map[peer.ID]bool{}
	)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rtt, err := h.probeConn(h.ctx, c, timeout)
			if err == nil {
				h.h.Peerstore().RecordLatency(c.RemotePeer(), rtt)
				return
			}
			if h.ctx.Err() != nil || c.IsClosed() {
				return
			}
			h.log.Info("closing dead connection", "peer", c.RemotePeer(), "remote", c.RemoteMultiaddr(), "why", why, "err", err)
			c.Close()
			mu.Lock()
			closed++
			hit[c.RemotePeer()] = true
			mu.Unlock()
		}()
	}
	wg.Wait()
	for p := range hit {
		if h.IsConnected(p) {
			// The path was replaced: what was sent on the dead one is lost,
			// so subscribers (the node syncs) treat it as a new connection.
			h.notifyConn(p, true)
		}
	}
	return closed
}

// checkOlderConns probes p's connections other than the new one nc: a peer
// that roamed dials from its new address while ours to its old one looks
// open but is dead, and the swarm may keep choosing it for new streams.
func (h *Host) checkOlderConns(nc network.Conn) {
	var older []network.Conn
	for _, c := range h.h.Network().ConnsToPeer(nc.RemotePeer()) {
		if c != nc {
			older = append(older, c)
		}
	}
	if len(older) > 0 {
		h.goOwned(func() { h.pruneConns(older, roamProbeTimeout, "new connection from the peer") })
	}
}

// mdnsAnnouncedNew handles an mDNS announcement from a peer we are connected
// to: if none of our connections uses an address it announces (it roamed),
// dial the announced addresses and probe the old connections.
func (h *Host) mdnsAnnouncedNew(ai peer.AddrInfo) {
	conns := h.h.Network().ConnsToPeer(ai.ID)
	announced := ipsOf(ai.Addrs)
	for _, c := range conns {
		if ip := ipOf(c.RemoteMultiaddr()); ip == nil || slices.ContainsFunc(announced, ip.Equal) {
			return // a current LAN address, or a relayed path: nothing to do
		}
	}
	h.goOwned(func() {
		ctx := network.WithForceDirectDial(h.ctx, "peer roamed")
		if err := h.dial(ctx, ai); err != nil {
			h.log.Debug("dial roamed LAN peer", "peer", ai.ID, "err", err)
		}
	})
	h.goOwned(func() { h.pruneConns(conns, roamProbeTimeout, "peer announced new addresses") })
}

// addrsChanged runs after the machine's interfaces or addresses changed:
// drop connections that cannot work any more, redial the peers that leaves
// unconnected, and tell the subscribers.
func (h *Host) addrsChanged() {
	local := localIPs()
	peers := map[peer.ID]bool{}
	var suspect []network.Conn
	for _, c := range h.h.Network().Conns() {
		ip := ipOf(c.LocalMultiaddr())
		if ip != nil && !ip.IsUnspecified() && !slices.ContainsFunc(local, ip.Equal) {
			// Its local address is gone: no packet of it can flow again.
			h.log.Info("closing connection from a vanished address", "peer", c.RemotePeer(), "local", c.LocalMultiaddr())
			peers[c.RemotePeer()] = true
			c.Close()
			continue
		}
		suspect = append(suspect, c)
	}
	h.goOwned(func() {
		// The routes may have changed under the rest (QUIC sockets bound to
		// the wildcard address, a new default gateway): probe them too.
		for _, c := range suspect {
			if c.IsClosed() {
				continue
			}
			peers[c.RemotePeer()] = true
		}
		h.pruneConns(suspect, roamProbeTimeout, "addresses changed")
		for p := range peers {
			if !h.IsConnected(p) {
				h.goOwned(func() { h.redial(p) })
			}
		}
		h.mu.Lock()
		subs := slices.Clone(h.addrSubs)
		h.mu.Unlock()
		for _, fn := range subs {
			h.goOwned(fn)
		}
	})
}

// redial reconnects to p from its known addresses (and our relays), a few
// times with a short pause: the new network may need a moment to route.
func (h *Host) redial(p peer.ID) {
	wait := 200 * time.Millisecond
	for try := 0; try < redialTries; try++ {
		if h.IsConnected(p) {
			return
		}
		// Failures before the change say nothing about the new network.
		if sw, ok := h.h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(p)
		}
		err := h.Connect(h.ctx, peer.AddrInfo{ID: p, Addrs: h.h.Peerstore().Addrs(p)}, SourceDirect)
		if err == nil {
			h.log.Info("reconnected after an address change", "peer", p)
			return
		}
		h.log.Debug("redial after address change", "peer", p, "try", try+1, "err", err)
		select {
		case <-time.After(wait):
		case <-h.ctx.Done():
			return
		}
		wait *= 4
	}
}

// localIPs lists the addresses of the machine's interfaces now.
func localIPs() []net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	out := make([]net.IP, 0, len(addrs))
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			out = append(out, n.IP)
		}
	}
	return out
}

// ipOf returns the IP of a direct address, nil for a relayed or non-IP one.
func ipOf(a ma.Multiaddr) net.IP {
	if a == nil || isRelayed(a) {
		return nil
	}
	ip, err := manet.ToIP(a)
	if err != nil {
		return nil
	}
	return ip
}

func ipsOf(addrs []ma.Multiaddr) []net.IP {
	var out []net.IP
	for _, a := range addrs {
		if ip := ipOf(a); ip != nil {
			out = append(out, ip)
		}
	}
	return out
}
