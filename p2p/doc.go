// Package p2p is Parley's network layer: a libp2p host (TCP and QUIC, Noise
// or TLS), local discovery by mDNS, GossipSub topics and request/response
// streams. It knows nothing of chat: topics carry opaque bytes that a caller's
// validator judges, and streams carry whatever protocol the caller registers.
//
// mDNS: when two nodes discover each other at the same moment both would
// dial, and with TCP port reuse that becomes a simultaneous open that fails
// the security handshake on both sides. So only the node with the smaller
// peer id dials a peer it found by mDNS; the other waits to be dialled.
package p2p
