// Command parley-bench measures Parley against a raw GossipSub baseline: N
// nodes in one process on loopback (or libp2p's mocknet), one group, then
// delivery latency, throughput (zero loss, and within a p99 bound; each the
// median and range of repeated searches), catch-up time, memory and CPU per
// message; with --growth, how those costs grow with the number of nodes and
// the size of the history (see package internal/bench for what each figure
// means and how the throughput search works).
//
// It is a separate binary so that the messenger (cmd/parley) carries none of
// the benchmark's dependencies: no plotting library, no mocknet.
//
//	go run ./cmd/parley-bench                 # defaults: 5 nodes, 100 msg/s, 256 B
//	go run ./cmd/parley-bench --help          # every flag
//	go run ./cmd/parley-bench --growth        # cost as nodes and history grow
package main
