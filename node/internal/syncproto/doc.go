// Package syncproto is Parley's history sync (/parley/sync/1.0.0): a
// member pulls what it lacks of a group from another member and serves its
// own history in turn.
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
// exists; a peer whose proof checks out but whom Group.Allow refuses (not in
// our log) is pulled from, since it may know admissions we missed. OnMember
// names each peer that proved membership of a group and is allowed. The vector (per author, the highest seq up to which we hold every
// message) makes a no-op sync cost one small round trip whatever the history
// size. Batches are verified (signatures, on all cores; one per author run, the
// rest by the author's chain of prev ids: envelope chain.go) and handed to the
// Ingest callback as they arrive, so an interrupted sync resumes from what
// was stored.
//
// Limits (Limits, DefaultLimits): every read and write on a sync stream has
// a deadline; a peer holds at most PerPeer streams; a stream waits for its
// hello in an unproven slot and only a proven member takes a serving slot.
// A pull that stalls ends after StallTimeout and another member is asked.
// The answer is streamed from the store (answer.go), never built whole, and
// a history-from-join group is served from Group.MinSince(requester) on.
// Per group, guard.go keeps the sequence state: equivocations refused at
// commit (Admit, View) and seq holes a pull gives up as unfillable.
//
// The package knows neither the node nor the store's implementation: it is
// given a small Store interface (reads), the host's streams (Net), the
// groups it may serve (each with its keys) and an Ingest callback.
package syncproto
