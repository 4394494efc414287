// Command parley-bench measures Parley against a raw GossipSub baseline: N
// nodes in one process on loopback (or libp2p's mocknet), one group, then
// delivery latency, zero-loss throughput, catch-up time, memory and CPU per
// message (see package internal/bench for what each figure means).
//
// It is a separate binary so that the messenger (cmd/parley) carries none of
// the benchmark's dependencies: no plotting library, no mocknet.
//
//	go run ./cmd/parley-bench                 # defaults: 5 nodes, 100 msg/s, 256 B
//	go run ./cmd/parley-bench --help          # every flag
package main
