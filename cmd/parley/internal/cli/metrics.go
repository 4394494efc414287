package cli

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"github.com/parley-chat/parley/cmd/parley/internal/metrics"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
)

// metricsFlag is --metrics (daemon, up, relay): off unless an address is given.
type metricsFlag struct {
	addr string
	reg  *prometheus.Registry // made by p2pOptions, before the node starts
}

func (f *metricsFlag) register(fl *pflag.FlagSet) {
	fl.StringVar(&f.addr, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics, e.g. 127.0.0.1:9464 "+
		"(off by default; no authentication: any address given is used, so prefer loopback)")
}

// p2pOptions makes the registry libp2p's collectors register with, when
// metrics are on.
func (f *metricsFlag) p2pOptions() []p2p.Option {
	if f.addr == "" {
		return nil
	}
	f.reg = metrics.NewRegistry()
	return []p2p.Option{p2p.WithPrometheus(f.reg)}
}

// start serves the registry plus n's figures once n has started; stop shuts
// the server down (a no-op when metrics are off).
func (f *metricsFlag) start(n *node.Node, storeDir string, log *slog.Logger) (stop func(), err error) {
	if f.addr == "" || f.reg == nil {
		return func() {}, nil
	}
	if err := f.reg.Register(metrics.NewCollector(n, storeDir)); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	srv, err := metrics.Start(f.addr, f.reg, log)
	if err != nil {
		return nil, err
	}
	log.Info("metrics served", "url", "http://"+srv.Addr().String()+metrics.Path)
	return func() {
		if err := srv.Close(); err != nil {
			log.Warn("metrics server", "err", err)
		}
	}, nil
}
