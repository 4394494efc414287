// Package store is Parley's on-disk state, kept in Badger: messages and their
// indexes, groups, profile settings, remembered peers and DHT bootstrap
// candidates. It knows nothing of the network or of the wire format: message
// bodies are opaque bytes that the caller has already verified.
//
// Key layout (every group key starts with the 16-byte group id, gid):
//
//	m/<gid><lamport:8><id:32>            -> raw message        history in display order
//	                                                               (empty: body erased, erase.go)
//	t/<gid><target><lamport:8><id>       -> -                  relations: messages acting on target
//	e/<gid><id>                          -> lamport:8          an erase in progress (erase.go)
//	i/<gid><id:32>                       -> lamport:8          dedup and lookup by id
//	a/<gid><alen:1><author><seq:8><id>   -> lamport:8 time:8   per-author index (sync)
//	v/<gid><alen:1><author>              -> seq:8 max:8        contiguous per-author prefix, highest held
//	H/<gid>                              -> ids:32*n           heads: no known child (one value)
//	w/<gid><id>                          -> -                  referenced but not held (gaps); its
//	                                                               presence also says the id is no head
//	r/<gid><id>                          (written by schema 1 before aa9c8d3; deleted by the v2 migration)
//	n/<gid>                              -> count:8 maxlamport:8   count: arrival number of the newest
//	A/<gid><arrival:8>                   -> lamport:8 id:32 [1] messages in the order received (arrival.go);
//	                                                               0x01: postings deferred (deferred.go)
//	g/<gid>                              -> JSON Group
//	p/<peer id>                          -> JSON Peer
//	b/                                   -> JSON []Peer            DHT bootstrap candidates (one value)
//	s/<name>                             -> setting bytes
//	u/<gid><author>                      -> JSON Member
//	V/                                   -> version:8          schema version (schema.go)
//	c/<peer id>                          -> JSON Contact       contacts (contacts.go)
//	d/<gid>                              -> JSON Pair          two-member groups kept with a contact
//	L/<name>                             -> bytes              local state of this device (localstate.go)
//	t/<gid><target><lamport:8><id>       -> -                  relations (relations.go)
//	q/<tlen:1><term><doc:18>[<tag:4>] -> <doc:18>*   search postings, a block per term per transaction (postings.go, schema 7)
//	Q/<^time:6><gid[:4]><id[:8]>         -> gid lamport id [shown]  a posting's document
//	P/<gid[:4]><id[:8]>                  -> time:8             its indexed time (for Unindex, Erase)
//	Y/                                   -> last m/ key        search backfill progress
//	y/<gid>                              -> arrival:8          deferred postings written up to here (deferred.go)
//
// Schema versions: SchemaVersion is the layout above. Open migrates an older
// store in place (each step idempotent, the version written in the same
// transaction as the step's last write, so a crash mid-way only repeats
// work) and refuses a newer one with ErrNewerSchema.
//
// Encryption at rest (crypt.go): with WithPassphrase, Badger encrypts
// everything it writes (AES, data keys rotated by Badger, kept under a
// master key). The master key comes from the passphrase through Argon2id and
// HKDF; the salt, Argon2id costs and a check value sit in the clear file
// parley-key.json, so a wrong passphrase is refused before Badger opens.
//
// In memory: a Bloom filter of stored ids and the set of gap markers answer
// "certainly not held" without asking Badger (filter.go); a "maybe" asks it.
//
// Durability: Badger runs with SyncWrites off, and every message commit goes
// through one committer goroutine that writes a batch in one transaction.
// Append (own messages) then fsyncs (DB.Sync) before any caller in that batch
// is answered, so a message reported sent is on disk, and under load many
// messages share one fsync (group commit). AppendReceived (messages that
// peers also hold) is answered once written; its fsync follows within
// WithSyncEvery, or with the next Append. Settings, groups and peers are
// fsynced on each write. docs/sync.md explains the trade.
package store
