package p2p

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/network"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
)

// Connection manager defaults: above ConnHighWater connections the host
// trims down to ConnLowWater, sparing connections younger than the grace
// period and peers GossipSub tags as mesh members of our topics.
const (
	ConnLowWater   = 64
	ConnHighWater  = 128
	connGrace      = time.Minute
	connTrimPeriod = 20 * time.Second
)

// WithConnLimits sets the connection manager's low and high water marks.
func WithConnLimits(low, high int) Option {
	return func(c *config) { c.connLow, c.connHigh = low, high }
}

// resourceOptions returns the connection manager and resource manager
// options: libp2p's default limits (with its services' limits), scaled to
// this machine's memory and file descriptors.
func resourceOptions(c *config) ([]libp2p.Option, error) {
	cm, err := connmgr.NewConnManager(c.connLow, c.connHigh,
		connmgr.WithGracePeriod(connGrace), connmgr.WithSilencePeriod(connTrimPeriod))
	if err != nil {
		return nil, fmt.Errorf("p2p: connection manager: %w", err)
	}
	rm, err := newResourceManager()
	if err != nil {
		cm.Close()
		return nil, err
	}
	return []libp2p.Option{libp2p.ConnectionManager(cm), libp2p.ResourceManager(rm)}, nil
}

func newResourceManager() (network.ResourceManager, error) {
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(limits.AutoScale()))
	if err != nil {
		return nil, fmt.Errorf("p2p: resource manager: %w", err)
	}
	return rm, nil
}
