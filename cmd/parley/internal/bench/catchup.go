package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// CatchUpResult is one catch-up run.
type CatchUpResult struct {
	Missed      int     `json:"missed"`
	Seconds     float64 `json:"seconds"`      // receiver restart -> holds every missed message
	MsgsPerS    float64 `json:"msgs_per_s"`   // Missed / Seconds
	SeedSeconds float64 `json:"seed_seconds"` // time the server took to produce the history (not measured)
}

// catchUp measures how long a member that was offline takes to get missed
// messages: the receiver (configured store) joins, goes offline, the server
// (in-memory store, so seeding is fast) stores missed messages, then the
// receiver restarts on its store, dials the server and syncs.
func catchUp(ctx context.Context, cfg *Config, missed int) (CatchUpResult, error) {
	res := CatchUpResult{Missed: missed}
	// Always loopback TCP: a mocknet host does not survive its node's restart.
	tcp := *cfg
	tcp.Net = NetTCP
	c := &parleyCluster{cfg: &tcp, fill: map[int]string{}}
	defer c.close()
	keys := make([]crypto.PrivKey, 2)
	hopts := make([][]p2p.Option, 2)
	for i := range keys {
		var err error
		if keys[i], _, err = crypto.GenerateEd25519Key(nil); err != nil {
			return res, err
		}
		if hopts[i], err = hostOpts(&tcp, nil, keys[i], i); err != nil {
			return res, err
		}
	}
	srvStore, err := store.Open("", store.InMemory(), store.WithLogger(cfg.Logger))
	if err != nil {
		return res, err
	}
	srv, err := c.startNode(ctx, 0, srvStore, keys[0], hopts[0])
	if err != nil {
		srvStore.Close()
		return res, err
	}
	c.nodes = append(c.nodes, srv)
	rcvStore, err := newStore(cfg, fmt.Sprintf("catchup-%d", missed))
	if err != nil {
		return res, err
	}
	rcv, err := c.startNode(ctx, 1, rcvStore, keys[1], hopts[1])
	if err != nil {
		rcvStore.Close()
		return res, err
	}
	gi, err := srv.CreateGroup(ctx, "catchup", false)
	if err != nil {
		rcv.stop()
		return res, err
	}
	code, err := srv.Invite(gi.ID)
	if err == nil {
		_, err = rcv.Join(ctx, code)
	}
	if err == nil {
		err = waitUntil(ctx, 30*time.Second, "the receiver has joined", func() bool {
			g, err := rcv.Group(gi.ID)
			return err == nil && g.Messages >= 2
		})
	}
	// Offline: the node stops, its store stays.
	rcv.Node.Close()
	<-rcv.done
	if err != nil {
		rcvStore.Close()
		return res, err
	}

	t0 := time.Now()
	text := c.filler(cfg.MsgSize)
	for i := 0; i < missed; i++ {
		if _, err := srv.Send(ctx, gi.ID, text); err != nil {
			rcvStore.Close()
			return res, err
		}
	}
	res.SeedSeconds = time.Since(t0).Seconds()
	want := uint64(missed + 2)

	// Back online: the clock runs from restart to holding everything.
	start := time.Now()
	rcv, err = c.startNode(ctx, 1, rcvStore, keys[1], hopts[1])
	if err != nil {
		rcvStore.Close()
		return res, err
	}
	c.nodes = append(c.nodes, rcv)
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	err = rcv.Host().Connect(cctx, peer.AddrInfo{ID: srv.ID(), Addrs: srv.Host().ListenAddrs()}, p2p.SourceDirect)
	cancel()
	if err != nil {
		return res, err
	}
	if err := waitUntil(ctx, 10*time.Minute, "the receiver caught up", func() bool {
		g, err := rcv.Group(gi.ID)
		return err == nil && g.Messages >= want
	}); err != nil {
		return res, err
	}
	res.Seconds = time.Since(start).Seconds()
	res.MsgsPerS = float64(missed) / res.Seconds
	return res, nil
}
