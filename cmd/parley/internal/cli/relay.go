package cli

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

// peersFlag is a repeatable flag of full multiaddrs (ending in /p2p/<id>), or
// of comma-separated bridge lines of them (p2p.BridgeLine),
// checked when parsed.
type peersFlag struct {
	raw   []string
	infos []peer.AddrInfo
}

var _ pflag.Value = (*peersFlag)(nil)

func (f *peersFlag) String() string { return strings.Join(f.raw, ",") }
func (f *peersFlag) Type() string   { return "multiaddr" }
func (f *peersFlag) Set(s string) error {
	ais, err := p2p.ParseAddrInfos([]string{s})
	if err != nil {
		return err
	}
	f.raw = append(f.raw, s)
	f.infos = append(f.infos, ais...)
	return nil
}

// netFlags reach peers beyond the LAN (daemon, up).
type netFlags struct {
	bootstrap peersFlag
	relays    peersFlag
}

func (f *netFlags) register(fl *pflag.FlagSet) {
	fl.Var(&f.bootstrap, "bootstrap", "bootstrap peer multiaddr with /p2p/<id>, e.g. a `parley relay`, or its comma-separated bridge line (repeatable); none by default")
	fl.Var(&f.relays, "relay", "circuit relay multiaddr with /p2p/<id>, or a bridge line, to use when behind a NAT (repeatable)")
}

func (f *netFlags) options() []p2p.Option {
	return []p2p.Option{p2p.WithBootstrap(f.bootstrap.infos...), p2p.WithStaticRelays(f.relays.infos...)}
}

func (a *app) relayCmd() *cobra.Command {
	var listen []string
	var boot peersFlag
	var met metricsFlag
	var mem memLimitFlag
	var printBridge bool
	var tls tlsFlags
	cmd := &cobra.Command{
		Use:   "relay",
		Short: "Run a public bootstrap, DHT server and circuit relay node (no chat)",
		Long: `Run a node for others to reach each other through: a bootstrap peer for
Parley's DHT (server mode), a circuit relay v2 with bounded reservations and
circuits, and an AutoNAT service. Run it on a publicly reachable machine, with
its own profile (its peer id is the profile's identity and stays the same
across restarts), e.g.

  parley --profile relay relay --listen /ip4/0.0.0.0/tcp/4001 --listen /ip4/0.0.0.0/udp/4001/quic-v1

It prints its full multiaddrs, one a line, on standard output: give them to
members with "parley daemon --bootstrap ADDR" (invites then carry relay
addresses too). With --print-bridge it prints them as one comma-separated
"bridge line" instead, which --bootstrap accepts whole. It joins no group and
reads no messages.

Behind a censoring firewall that passes only HTTPS, listen on WebSocket over
TLS on port 443:

  parley --profile relay relay --listen /ip4/0.0.0.0/tcp/443/tls/ws --print-bridge

with --cert FILE --key FILE for a real certificate, or without them a
self-signed one made at the first start and kept in the profile directory.
Members accept any certificate there: the connection is authenticated by the
relay's peer id, which every address ends in (docs/transports.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := a.logger(slog.LevelInfo)
			if err != nil {
				return err
			}
			p, err := a.profile()
			if err != nil {
				return err
			}
			mem.apply(log)
			popts := append([]p2p.Option{p2p.WithBootstrap(boot.infos...)}, met.p2pOptions()...)
			if len(listen) > 0 { // else the profile's port, no fallback
				popts = append(popts, p2p.WithListenAddrs(listen, nil))
			}
			topt, err := tls.option(p.Dir, listen)
			if err != nil {
				return err
			}
			popts = append(popts, topt...)
			sopts, err := a.storeOptions(p)
			if err != nil {
				return err
			}
			n, err := node.New(p.Dir, node.WithRelayMode(), node.WithLogger(log), node.WithP2P(popts...), node.WithStoreOptions(sopts...))
			if errors.Is(err, store.ErrLocked) {
				return fmt.Errorf("%w: profile %q is in use; run the relay with its own --profile", err, p.Name)
			}
			if err != nil {
				return storeError(err, p)
			}
			defer n.Close()
			if err := n.Start(cmd.Context()); err != nil {
				return fmt.Errorf("start relay: %w", err)
			}
			stopMetrics, err := met.start(n, node.StoreDir(p.Dir), log)
			if err != nil {
				return err
			}
			defer stopMetrics()
			bridge := p2p.BridgeLine(n.Host().Addrs())
			if printBridge {
				fmt.Fprintln(a.stdout, bridge)
			} else {
				for _, ad := range n.Host().Addrs() {
					fmt.Fprintln(a.stdout, ad)
				}
			}
			log.Info("relay running", "profile", p.Name, "peer", n.ID().String(), "bridge", bridge)
			<-cmd.Context().Done()
			log.Info("shutting down")
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&listen, "listen", nil, "listen multiaddr (repeatable; default: the profile's port, TCP and QUIC, all interfaces), e.g. /ip4/0.0.0.0/tcp/443/tls/ws to look like HTTPS")
	cmd.Flags().BoolVar(&printBridge, "print-bridge", false, "print the relay's addresses as one comma-separated bridge line (for --bootstrap) instead of one a line")
	tls.register(cmd.Flags())
	cmd.Flags().Var(&boot, "bootstrap", "another bootstrap or relay node to join (repeatable)")
	met.register(cmd.Flags())
	mem.register(cmd.Flags())
	return cmd
}

// tlsFlags: the certificate a relay serves on /tls/ws addresses.
type tlsFlags struct{ cert, key string }

func (f *tlsFlags) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.cert, "cert", "", "PEM certificate (chain) for /tls/ws listen addresses; default: a self-signed one kept in the profile directory")
	fl.StringVar(&f.key, "key", "", "PEM private key for --cert")
}

// relayCertFile and relayKeyFile hold the relay's self-signed certificate in
// its profile directory.
const (
	relayCertFile = "relay-tls.crt"
	relayKeyFile  = "relay-tls.key"
)

// option loads --cert/--key, or, when a /tls/ws address is to be listened
// on without them, the profile's self-signed pair (made on first use).
func (f *tlsFlags) option(profileDir string, listen []string) ([]p2p.Option, error) {
	if (f.cert == "") != (f.key == "") {
		return nil, errors.New("--cert and --key go together")
	}
	if f.cert != "" {
		c, err := stdtls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, fmt.Errorf("load --cert/--key: %w", err)
		}
		return []p2p.Option{p2p.WithTLSCertificate(c)}, nil
	}
	if !p2p.ListensTLSWebSocket(listen) {
		return nil, nil
	}
	c, err := p2p.LoadOrCreateCert(filepath.Join(profileDir, relayCertFile), filepath.Join(profileDir, relayKeyFile))
	if err != nil {
		return nil, err
	}
	return []p2p.Option{p2p.WithTLSCertificate(c)}, nil
}
