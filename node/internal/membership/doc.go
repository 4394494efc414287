// Package membership is the network-free core of a Parley group's
// membership: a DAG of signed operations (create, add, join by invite,
// remove, leave, promote, demote, rename, profile, invites, key rotation),
// the deterministic State every node computes from the same set of
// operations whatever order they arrived in, key epochs whose secrets are
// sealed with HPKE to each member, a per-sender hash ratchet for message
// keys, invite capabilities and safety numbers.
//
// It does no I/O: the node stores and transports operations (Op.Encode,
// DecodeOp) and feeds them to a Log. The rules are written down in
// docs/membership.md.
package membership
