// Package bench measures Parley against a raw GossipSub baseline, in one
// process, on loopback (or libp2p's mocknet), or with a process per node
// (Config.Procs: procs.go drives node processes that child.go serves).
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
//   - throughput, two figures: the highest zero-loss rate (every node stores
//     every message, at a delivered rate of at least 90% of the offered
//     one; delivered = messages / (last stored on every node - first sent))
//     and the highest rate that is also within a p99 bound to all members
//     (100 ms by default). One search (search.go) doubles the offered rate
//     until a step loses messages, bisects the zero-loss bracket, then the
//     p99 bracket, to within 10%, and repeats each figure's final rate until
//     it has passed twice. Brackets are recomputed from every step so far
//     (the lowest failing rate bounds them), so one unlucky step cannot
//     leave a figure above a rate that failed. Every step starts from a
//     quiet cluster (no late delivery for 300 ms, CPU back to idle; a step
//     that could not wait for that is marked "backlog") and is judged only
//     on its own messages. The search is repeated (3 times by default) and
//     each figure is the median, with the min-max range, of the repeats;
//     the ratio to the baseline is the ratio of the medians;
//   - catch-up: a member goes offline, a peer stores M messages, the member
//     comes back and the clock runs from its restart to holding all M;
//   - memory and CPU: process RSS (/proc/self/status) and Go heap, idle and
//     under load, per node; CPU time (getrusage) per delivered message;
//   - cost as work grows (Config.Growth, growth.go): the latency run for each
//     cluster size, and the catch-up run for each history size, with the
//     receiver's memory and its store's disk bytes per stored message.
//
// The baseline is the same measurement on plain libp2p hosts running
// pubsub.NewGossipSub with the options package p2p builds its own GossipSub
// from (p2p.PubSubOptions: StrictNoSign, content-hash ids, flood publish,
// 8192-deep queues) and the same topology: no validator, no peer scoring, no
// encryption, no signatures, no store. Every figure is printed next to the
// baseline's and the ratio.
package bench
