package p2p

import (
	"net"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
)

// ifacePollInterval is how often the host looks at the machine's network
// interfaces. A poll is a few syscalls; netlink would be faster to notice
// but Linux-only.
const ifacePollInterval = 2 * time.Second

// lanWatch keeps LAN discovery in step with the machine's interfaces, so
// that a node started with no network (airplane mode, a container, Wi-Fi
// that connects later) starts anyway and discovers peers once a network
// appears: mDNS runs only while a multicast-capable interface is up and is
// restarted when that set or its addresses change (libp2p's mDNS binds to
// the interfaces, and announces the addresses, it saw when it started).
// Any change also kicks the DHT bootstrap loop, so bootstrap peers are
// tried at once rather than at its next tick.
func (h *Host) lanWatch(mdnsOn bool, service string) {
	defer h.wg.Done()
	t := time.NewTicker(ifacePollInterval)
	defer t.Stop()
	var (
		svc     mdns.Service
		last    string // interface key at the previous poll
		lastAll = addrKey()
		running string // interface key of the running mDNS service
	)
	stop := func() {
		if svc != nil {
			svc.Close()
			svc, running = nil, ""
		}
	}
	defer stop()
	first := true
	for {
		key := multicastKey()
		changed := key != last
		if changed && !first {
			h.log.Info("network interfaces changed", "multicast", key)
			h.kickBootstrap()
		}
		last = key
		if mdnsOn && key != running {
			stop()
			if key != "" {
				s := mdns.NewMdnsService(freshAddrsHost{h.h}, service, (*mdnsNotifee)(h))
				if err := s.Start(); err != nil {
					// Tried again at the next poll; logged once per change.
					if changed {
						h.log.Info("mdns not started yet", "err", err, "interfaces", key)
					}
					s.Close()
				} else {
					svc, running = s, key
					h.log.Debug("mdns started", "interfaces", key)
				}
			}
		}
		if all := addrKey(); all != lastAll {
			// Any address change, multicast interface or not: drop what
			// died with the old addresses and re-announce (roam.go).
			lastAll = all
			h.log.Info("addresses changed", "addrs", all)
			h.addrsChanged()
		}
		first = false
		select {
		case <-h.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// multicastKey describes the up, multicast-capable interfaces and their
// addresses ("" when there is none), to notice any change between polls.
func multicastKey() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var parts []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagMulticast == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil || len(addrs) == 0 {
			continue // nothing to announce on it yet
		}
		as := make([]string, 0, len(addrs))
		for _, a := range addrs {
			as = append(as, a.String())
		}
		slices.Sort(as)
		parts = append(parts, ifc.Name+"="+strings.Join(as, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// addrKey describes every up interface's addresses (loopback aside).
func addrKey() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return ""
	}
	var parts []string
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			parts = append(parts, ifc.Name+"="+a.String())
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ";")
}

// kickBootstrap wakes the DHT bootstrap loop (a no-op if it is busy).
func (h *Host) kickBootstrap() {
	select {
	case h.bootKick <- struct{}{}:
	default:
	}
}

// freshAddrsHost is the host as mDNS sees it: the swarm caches the
// interface expansion of its wildcard listen addresses for a minute, so an
// mDNS service started just after a network came up would announce the
// old (often empty) set. This view resolves them afresh.
type freshAddrsHost struct{ host.Host }

func (f freshAddrsHost) Network() network.Network { return freshAddrsNetwork{f.Host.Network()} }

type freshAddrsNetwork struct{ network.Network }

func (n freshAddrsNetwork) InterfaceListenAddresses() ([]ma.Multiaddr, error) {
	return manet.ResolveUnspecifiedAddresses(n.ListenAddresses(), nil)
}
