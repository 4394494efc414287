package p2p

// LAN discovery: peers mDNS announces are dialled, one side first.

import (
	"math/rand/v2"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

type mdnsNotifee Host

// HandlePeerFound dials peers found on the LAN. Only the smaller id dials
// at once (see doc.go); the larger one dials only if still unconnected after
// a grace period, so one lost dial does not leave two LAN nodes apart until
// the next mDNS announcement (records live for an hour).
func (n *mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := (*Host)(n)
	if ai.ID == h.h.ID() {
		return
	}
	h.mu.Lock()
	h.sources[ai.ID] = SourceMDNS
	h.mu.Unlock()
	h.h.Peerstore().AddAddrs(ai.ID, ai.Addrs, time.Hour)
	if h.IsConnected(ai.ID) {
		h.mdnsAnnouncedNew(ai) // it may have roamed (roam.go)
		return
	}
	first := time.Duration(rand.IntN(200)) * time.Millisecond // spreads dials when many peers appear at once
	if strings.Compare(string(h.h.ID()), string(ai.ID)) > 0 {
		first = mdnsFallbackDelay + first
	}
	h.goOwned(func() { h.dialLAN(ai, first) })
}

const (
	mdnsFallbackDelay = 5 * time.Second
	mdnsDialTries     = 5
)

// dialLAN dials a peer found by mDNS, retrying with backoff until connected.
func (h *Host) dialLAN(ai peer.AddrInfo, wait time.Duration) {
	for try := 0; try < mdnsDialTries; try++ {
		select {
		case <-time.After(wait):
		case <-h.ctx.Done():
			return
		}
		if h.IsConnected(ai.ID) {
			return
		}
		err := h.Connect(h.ctx, ai, SourceMDNS)
		if err == nil {
			return
		}
		h.log.Debug("mdns dial failed", "peer", ai.ID, "try", try+1, "err", err)
		wait = time.Second<<try + time.Duration(rand.IntN(500))*time.Millisecond
	}
}
