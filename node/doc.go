// Package node is the Parley messenger: identities, groups, end-to-end
// encryption, message validation, history sync, and the API that front ends
// call. It wires the network (package p2p) to the store (package store).
//
// # Messages
//
// A message is a wirepb.Message signed by its author's Ed25519 key
// (wirepb.SignedMessage; a send batch shares one signature over the Merkle
// root of its ids, see merkle.go). A batch is published as one
// wirepb.Bundle sealed with the group's XChaCha20-Poly1305 key
// (wirepb.Envelope), so gossip, encryption and validation are paid per
// batch. Every node runs each envelope it receives through the topic
// validator: size bound, schema and version, AEAD open (a non-member's bytes
// fail here, cheaply), bundle bounds, then per message group binding, field
// ranges, signature (once per batch), and the replay check against the
// store. A refusal is counted by reason (Status.Drops) and never stored.
//
// # Order
//
// Each message carries a Lamport clock one above the highest the author had
// seen, and the ids of the heads it had seen as parents. History is shown in
// (lamport, id) order: a total order, the same on every node that holds the
// same messages, and consistent with causality since a message's clock is
// above its parents'.
//
// # Sync (/parley/sync/1.0.0)
//
//	requester                               responder
//	SyncHello{nonce, HMAC(sync key, req..)} ->
//	                                        <- SyncHelloReply{ok, HMAC(sync key, resp..)}
//	SyncRequest{per-author vector, want ids} ->
//	                                        <- SyncBatch{messages, remaining} ... {done}
//
// The proofs bind both peer ids and the nonce, so they cannot be replayed
// and do not name the group: the responder tries each of its groups. A peer
// without the secret gets the same bare refusal whether or not the group
// exists. The vector (per author, the highest seq up to which we hold every
// message) makes a no-op sync cost one small round trip whatever the history
// size. Batches are stored as they arrive, so an interrupted sync resumes
// from what was stored. Pulls run when a peer connects, when a
// received message names a parent we lack, and periodically.
package node
