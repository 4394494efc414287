// Package p2p is Parley's network layer: a libp2p host (TCP and QUIC, Noise
// or TLS; WebSocket plain and over TLS for censored networks, see
// websocket.go), local discovery by mDNS that follows the network interfaces
// (lanwatch.go: a host starts with no network), a Kademlia DHT on a private /parley
// prefix (bootstrap peers only from config, flags or invites; never a public
// list), NAT traversal (AutoNAT v2, circuit relay v2 client, hole punching;
// relay slots held and dials falling back to /p2p-circuit whatever AutoNAT
// says, for paths a censor blocks between public hosts: reserve.go),
// an optional relay/bootstrap service mode, connection and resource limits,
// GossipSub with peer scoring and a per-peer rate limit (optionally gated:
// pubsub only with admitted peers, and of each topic only with the peers
// admitted to it, gate.go), and request/response streams. It knows nothing of chat: topics carry opaque bytes that a
// caller's validator judges, and streams carry whatever protocol the caller
// registers.
//
// mDNS: when two nodes discover each other at the same moment both would
// dial, and with TCP port reuse that becomes a simultaneous open that fails
// the security handshake on both sides. So only the node with the smaller
// peer id dials a peer it found by mDNS at once; the other dials only if
// still unconnected a few seconds later. Dials retry with backoff.
package p2p
