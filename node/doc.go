// Package node is the Parley messenger: identities, groups, end-to-end
// encryption, message validation, history sync, and the API that front ends
// call. It wires the network (package p2p) to the store (package store).
//
// # Messages
//
// A message is a wirepb.Message signed by its author's Ed25519 key
// (wirepb.SignedMessage; a send batch shares one signature over the Merkle
// root of its ids, see merkle.go). A batch is published as one
// wirepb.Bundle sealed with the current key epoch's XChaCha20-Poly1305 key
// (wirepb.Envelope version 3), so gossip, encryption and validation are
// paid per batch. Every node runs each envelope it receives through the
// topic validator: size bound, schema and version, epoch (unknown: ignored),
// AEAD open (a non-member's bytes fail here, cheaply), bundle bounds, then
// per message group binding, field ranges, signature (once per batch), and
// the replay check against the store, then causality (the Lamport clock
// above that of every parent we hold), then membership (the author a member
// at the message's epoch). A refusal is counted by reason (Status.Drops)
// and never stored.
//
// # Membership
//
// Each group has a signed membership log (internal/membership; mlog.go
// keeps it, membership.go is the API, join.go the join protocol): members,
// roles, invites and key epochs. Ops travel as group messages; a removal
// or leave starts a new epoch the departed member cannot open. Groups from
// before membership are legacy: readable, not writable. See
// docs/membership.md and docs/crypto.md.
//
// # Order
//
// Each message carries a Lamport clock one above the highest the author had
// seen, and the ids of the heads it had seen as parents. History is shown in
// (lamport, id) order: a total order, the same on every node that holds the
// same messages, and consistent with causality since a message's clock is
// above its parents'.
//
// # Sync
//
// Members swap history over /parley/sync/1.0.0 (package syncproto): pulls
// run when a peer connects or appears on a group's topic, when a received
// message names a parent we lack, and periodically.
//
// # Parts
//
// The node is a facade (lifecycle, options, events, status, the group
// registry and the send and receive paths) over parts that do not know it:
//
//   - internal/envelope: the message format (keys, epoch keys, ids,
//     signatures, Merkle batch proofs, sealed envelopes, every validity check);
//   - internal/membership: the pure membership core (signed ops, state,
//     epochs, invites);
//   - internal/syncproto: the sync protocol, over a small store interface
//     and an ingest callback;
//   - internal/reach: redial, DHT bootstrap book and rendezvous, given
//     namespace strings, never group secrets.
//
// A sent message goes Send -> sender -> sendBatch (send.go); a received
// one goes validate -> receive -> commit (receive.go). Every check that
// decides validity, causality included, runs in the pubsub validator, so
// an invalid message is rejected: never forwarded, its sender scored down.
//
// # Lifecycle
//
// New opens a profile directory's store and identity (identity.go) and
// starts nothing; Start builds the host and runs the node; Close stops
// everything and closes the store New opened.
package node
