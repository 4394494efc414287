// Package reach keeps a node reachable beyond the LAN. It redials the peers
// it remembers (members synced with, inviters) at start, with backoff and at
// once when our addresses change; it keeps DHT bootstrap candidates in the
// store across restarts (kad-dht keeps its routing table in memory only);
// and it meets group members through DHT rendezvous: it provides and looks
// up, per group, namespace strings that only members can compute
// (envelope.RendezvousNS). It is given those strings, never group secrets,
// and knows nothing of groups or messages.
package reach
