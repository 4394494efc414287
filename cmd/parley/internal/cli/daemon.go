package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/profile"
	"github.com/parley-chat/parley/cmd/parley/internal/web"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// nodeFlags are the flags of daemon and up.
type nodeFlags struct {
	listen []string
	mdns   bool
	name   string
	web    bool // print the web chat's URL and open a browser (up --web)
	net    netFlags
	met    metricsFlag
	files  fileFlags // files.go
	mem    memLimitFlag
}

func (f *nodeFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringArrayVar(&f.listen, "listen", nil, "libp2p listen multiaddr (repeatable; overrides the profile's port)")
	fl.BoolVar(&f.mdns, "mdns", true, "discover peers on the local network with mDNS")
	fl.StringVar(&f.name, "name", "", "display name shown to other members (saved in the profile)")
	f.net.register(fl)
	f.met.register(fl)
	f.files.register(fl)
	f.mem.register(fl)
}

func (a *app) daemonCmd() *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node in the foreground without a chat prompt (stop with Ctrl-C or SIGTERM)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := a.logger(slog.LevelInfo)
			if err != nil {
				return err
			}
			return a.runNode(cmd.Context(), log, f, nil)
		},
	}
	f.register(cmd)
	return cmd
}

func (a *app) upCmd() *cobra.Command {
	var f nodeFlags
	var plain bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run the node with an interactive chat on this terminal",
		Long: `Run the node with a chat. On a terminal it is full screen (groups, history,
invites with QR codes; /help inside); the node's log goes to up.log in the profile.
With --plain, or when standard input or output is not a terminal, it is a line-based
chat: lines are sent to the current group; commands: /groups /join CODE /create NAME
/invite [--expires D] [--uses N] /switch GROUP /members /name NEW /remove MEMBER
/leave /peers /history [N] /help /quit.
When standard input ends (a script, /dev/null), the node keeps running until a signal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runUp(cmd.Context(), f, plain)
		},
	}
	f.register(cmd)
	registerWebFlag(cmd, &f)
	cmd.Flags().BoolVar(&plain, "plain", false, "line-based chat even on a terminal (scripts, screen readers)")
	return cmd
}

// runNode runs a node until ctx ends (a signal) or, when front is set, until
// front returns. It publishes the control API while running.
func (a *app) runNode(ctx context.Context, log *slog.Logger, f nodeFlags, front func(ctx context.Context, n *node.Node) error) error {
	p, err := a.profile()
	if err != nil {
		return err
	}
	f.mem.apply(log)
	popts := append(append(f.net.options(), p2p.WithMDNS(f.mdns)), f.met.p2pOptions()...)
	if len(f.listen) > 0 {
		// Without --listen the node listens on the profile's port (a taken
		// port falls back to a random one).
		popts = append(popts, p2p.WithListenAddrs(f.listen, nil))
	}
	sopts, err := a.storeOptions(p)
	if err != nil {
		return err
	}
	n, err := node.New(p.Dir, node.WithDisplayName(f.name), node.WithLogger(log), node.WithP2P(popts...), node.WithStoreOptions(sopts...), node.WithFileOptions(f.files.options()...))
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w: is a parley node already running for profile %q? (see `parley --profile %s status`)", err, p.Name, p.Name)
	}
	if err != nil {
		return storeError(err, p)
	}
	defer func() { // closes the store too
		if err := n.Close(); err != nil {
			log.Error("close node", "err", err)
		}
	}()
	if err := n.Start(ctx); err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	stopMetrics, err := f.met.start(n, node.StoreDir(p.Dir), log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	id := n.Identity()

	ln, token, err := a.listenAPI(p, log) // webaddr.go: kept port and login
	if err != nil {
		return err
	}
	srv := api.NewServer(n, token, api.WithLogger(log), api.WithWebUI(web.Handler()))
	sctx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- api.Serve(sctx, ln, srv) }()
	defer func() {
		stopServe()
		if err := <-served; err != nil {
			log.Error("control API", "err", err)
		}
	}()
	if err := p.WriteRuntime(profile.Runtime{Addr: ln.Addr().String(), PID: os.Getpid()}, token); err != nil {
		return fmt.Errorf("write %s: %w", p.APIFile(), err)
	}
	if f.web {
		a.announceWeb(log, ln.Addr().String(), token)
	}
	defer func() {
		if err := p.RemoveRuntime(); err != nil {
			log.Warn("remove runtime files", "err", err)
		}
	}()

	addrs := make([]string, 0)
	for _, ad := range n.Host().Addrs() {
		addrs = append(addrs, ad.String())
	}
	log.Info("node running", "profile", p.Name, "peer", n.ID().String(), "name", id.Name, "addrs", addrs, "api", ln.Addr().String())

	if front != nil {
		err = front(ctx, n)
	} else {
		<-ctx.Done()
	}
	log.Info("shutting down")
	// Deferred, in order: runtime files, control API, metrics, node (and its store).
	return err
}
