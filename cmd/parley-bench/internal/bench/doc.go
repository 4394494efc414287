// Package bench measures Parley against a raw GossipSub baseline, in one
// process, on loopback (or libp2p's mocknet).
//
// A run starts N real Parley nodes (node.New, each with its own Ed25519 key
// and Badger store, on disk by default), connects them in a topology (full
// mesh for small N, a random graph of degree k otherwise), forms one group
// with CreateGroup / Invite / Join and waits until every node holds every
// join message and the topic mesh has had time to form. It then measures:
//
//   - latency: messages are sent at a fixed rate spread over several
//     senders; a message's send time is taken just before Send is called and
//     its delivery time on each other node when that node's Subscribe()
//     stream reports it stored (node.EventMessage). Reported per delivery and
//     "to all members" (the slowest member per message): p50, p90, p99, max;
//   - throughput: the offered rate is doubled, then bisected, and a step
//     passes when every node stores every message (zero loss) at a delivered
//     rate of at least 90% of the offered one. The figure is the best
//     delivered rate: messages / (last stored on every node - first sent);
//   - catch-up: a member goes offline, a peer stores M messages, the member
//     comes back and the clock runs from its restart to holding all M;
//   - memory and CPU: process RSS (/proc/self/status) and Go heap, idle and
//     under load, per node; CPU time (getrusage) per delivered message.
//
// The baseline is the same measurement on plain libp2p hosts running
// pubsub.NewGossipSub with the options package p2p builds its own GossipSub
// from (p2p.PubSubOptions: StrictNoSign, content-hash ids, flood publish,
// 8192-deep queues) and the same topology: no validator, no peer scoring, no
// encryption, no signatures, no store. Every figure is printed next to the
// baseline's and the ratio.
package bench
