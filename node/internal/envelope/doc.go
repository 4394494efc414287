// Package envelope is Parley's message format: the keys derived from a group
// secret (ids, topic, envelope AEAD key, sync proofs, rendezvous strings),
// message ids, author signatures (one per send batch, over a Merkle root of
// the batch's ids), the sealed pubsub envelope that carries a bundle of
// signed messages, and the checks a received message must pass before it
// is trusted. It knows nothing of the network, the store's contents or the
// node: every function is pure or uses only process-wide caches of facts
// about public data (a verified batch signature, an author's peer id).
package envelope
