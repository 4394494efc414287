package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// withLocalNode runs fn against a node started on the profile for one
// command when no node runs (loopback only, no mDNS): a write is signed and
// stored at once and reaches the group by sync when a node next runs.
func (a *app) withLocalNode(ctx context.Context, fn func(n *node.Node) error) error {
	p, err := a.profile()
	if err != nil {
		return err
	}
	sopts, err := a.storeOptions(p)
	if err != nil {
		return err
	}
	quiet := slog.New(slog.DiscardHandler)
	n, err := node.New(p.Dir, node.WithLogger(quiet),
		node.WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)),
		node.WithStoreOptions(append(sopts, store.WithLogger(quiet))...))
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: a parley node is starting or running for profile %q; retry in a moment", err, p.Name)
	}
	if err != nil {
		return storeError(err, p)
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	if err := fn(n); err != nil {
		return err
	}
	fmt.Fprintln(a.stderr, "(node not running: stored locally; it reaches the group when a node runs)")
	return n.Close()
}
