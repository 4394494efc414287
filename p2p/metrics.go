package p2p

import (
	"github.com/libp2p/go-libp2p"
	"github.com/prometheus/client_golang/prometheus"
)

// WithPrometheus makes libp2p register its collectors (resource manager,
// swarm, identify, relay service, hole punching, AutoNAT, event bus) with
// reg instead of Prometheus' global default registry, so that whoever
// serves reg serves them. The collectors are libp2p's package-level ones:
// in a process with several hosts they add up.
func WithPrometheus(reg prometheus.Registerer) Option { return func(c *config) { c.metrics.reg = reg } }

type metricsConfig struct {
	reg prometheus.Registerer
}

// metricsOptions passes the registerer to libp2p, if one was given (else
// libp2p uses prometheus.DefaultRegisterer, as it always has).
func metricsOptions(c *config) []libp2p.Option {
	if c.metrics.reg == nil {
		return nil
	}
	return []libp2p.Option{libp2p.PrometheusRegisterer(c.metrics.reg)}
}
