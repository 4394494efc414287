// Package metrics serves a node's figures in the Prometheus text format for
// `parley daemon --metrics` and `parley relay --metrics`.
//
// Parley's own figures come from a Collector that reads the node's
// snapshots (Status, Peers, Counters) and the store directory's size when
// Prometheus scrapes: nothing is added to the message path beyond the
// node's few atomic counters. libp2p's own collectors (resource manager,
// swarm, identify, relay, hole punching, AutoNAT) register with the same
// registry through p2p.WithPrometheus; the Go runtime and process
// collectors are added too (NewRegistry).
//
// Exposure: the endpoint has no authentication and serves whatever address
// it is given. The figures reveal no message content or group names, but
// they do reveal activity (message rates, peer counts, connection paths)
// and libp2p's protocol and resource figures: keep it on loopback or behind
// a firewall unless the scraper is elsewhere on a trusted network.
package metrics
