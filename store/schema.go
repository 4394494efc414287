package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	badger "github.com/dgraph-io/badger/v4"
)

// SchemaVersion is the key layout this binary reads and writes (doc.go).
//
//	1  the layout before versioning: no V/ key (a store holding data and no
//	   V/ key is version 1); stores made before commit aa9c8d3 also hold r/
//	   keys that nothing reads any more.
//	2  V/ holds the version; the obsolete r/ keys are gone.
//	3  the search index (x/, X/); messages stored before it wait for
//	   Backfill under the progress marker Y/.
//	4  the compact search index (q/, Q/) replaces x/ and X/, which are
//	   dropped; every message waits for Backfill again.
//	5  messages indexed by arrival (A/, arrival.go), numbered in history
//	   order for the messages held before it.
//	6  an arrival entry may carry a flag byte (search postings deferred) and
//	   a group a deferred-indexing watermark (y/, deferred.go). Nothing to
//	   convert: the version tells a binary of version 5, which would read a
//	   flagged entry as corrupt, to refuse the store instead.
//	7  search postings in blocks (postings.go): a q/ key may hold several
//	   docs. Nothing to convert (a posting of version 6 is a block of one
//	   doc); the version tells a binary of version 6, which would read a
//	   block as a corrupt posting, to refuse the store.
const SchemaVersion = 7

// ErrNewerSchema means the store was written by a newer Parley, whose layout
// this binary does not know. It is wrapped with both versions.
var ErrNewerSchema = errors.New("store: written by a newer version of Parley")

// errBadSchema means the V/ value is malformed.
var errBadSchema = errors.New("store: malformed schema version")

// schemaKey holds the version as 8 big-endian bytes.
var schemaKey = key('V')

// decodeSchemaVersion parses the V/ value.
func decodeSchemaVersion(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %d bytes", errBadSchema, len(v))
	}
	n := binary.BigEndian.Uint64(v)
	if n == 0 {
		return 0, fmt.Errorf("%w: version 0", errBadSchema)
	}
	return n, nil
}

func setSchema(txn *badger.Txn, v uint64) error { return txn.Set(schemaKey, u64(v)) }

// A migration moves a store from version to-1 to version to. Every
// transaction of run must be idempotent (a crash may stop run anywhere and
// the next Open runs it again from the start), and its last transaction must
// call setSchema(txn, to), so the version moves with the step's final write
// and a store is never marked migrated before it is.
type migration struct {
	to   uint64
	what string
	run  func(db *badger.DB, to uint64) error
}

// migrations, in order, one per version after 1.
var migrations = []migration{
	{to: 2, what: "delete obsolete r/ keys", run: dropPrefix('r')},
	{to: 3, what: "mark messages for search backfill", run: markBackfill},
	{to: 4, what: "replace the search index with the compact one", run: reindexSearch},
	{to: 5, what: "index messages by arrival", run: numberArrivals},
	{to: 6, what: "allow deferred search indexing", run: versionOnly},
	{to: 7, what: "allow search postings in blocks", run: versionOnly},
}

// versionOnly is a step whose new layout only adds: the version is all it writes.
func versionOnly(db *badger.DB, to uint64) error {
	return db.Update(func(txn *badger.Txn) error { return setSchema(txn, to) })
}

// Test knobs: how many keys one migration transaction deletes, and a fault
// injected after each committed transaction (a crash mid-migration).
var (
	migrateChunk = 4096
	migrateFault func(to uint64, chunk int) error
)

// migrate brings db to SchemaVersion, or fails with ErrNewerSchema without
// writing anything. A new (empty) store is simply marked current.
func migrate(db *badger.DB, log *slog.Logger) error {
	v, err := readSchema(db)
	if err != nil {
		return err
	}
	if v > SchemaVersion {
		return fmt.Errorf("%w: the store has schema version %d, this binary knows versions up to %d",
			ErrNewerSchema, v, SchemaVersion)
	}
	if v == 0 { // empty: nothing to migrate
		if err := db.Update(func(txn *badger.Txn) error { return setSchema(txn, SchemaVersion) }); err != nil {
			return err
		}
		return db.Sync()
	}
	if v == SchemaVersion {
		return nil
	}
	for _, m := range migrations {
		if m.to <= v {
			continue
		}
		log.Info("migrating store", "from", v, "to", m.to, "step", m.what)
		if err := m.run(db, m.to); err != nil {
			return fmt.Errorf("store: migrate to schema %d (%s): %w", m.to, m.what, err)
		}
		got, err := readSchema(db)
		if err != nil {
			return err
		}
		if got != m.to {
			return fmt.Errorf("store: migration to schema %d left version %d", m.to, got)
		}
		v = m.to
	}
	return db.Sync()
}

// readSchema returns the stored version: V/ if present, else 1 for a store
// holding anything, else 0 (empty).
func readSchema(db *badger.DB) (uint64, error) {
	var v uint64
	err := db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(schemaKey)
		if err == nil {
			return item.Value(func(b []byte) (err error) { v, err = decodeSchemaVersion(b); return err })
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		it := txn.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		if it.Rewind(); it.Valid() {
			v = 1
		}
		return nil
	})
	return v, err
}

// dropPrefix deletes every key under "<prefix>/" in transactions of
// migrateChunk keys; deleting a key twice is harmless, so a crash between
// transactions only leaves fewer keys for the next run.
func dropPrefix(prefix byte) func(db *badger.DB, to uint64) error {
	return func(db *badger.DB, to uint64) error {
		for chunk := 0; ; chunk++ {
			var keys [][]byte
			err := db.View(func(txn *badger.Txn) error {
				it := txn.NewIterator(badger.IteratorOptions{Prefix: key(prefix)})
				defer it.Close()
				for it.Rewind(); it.Valid() && len(keys) < migrateChunk; it.Next() {
					keys = append(keys, it.Item().KeyCopy(nil))
				}
				return nil
			})
			if err != nil {
				return err
			}
			last := len(keys) < migrateChunk
			err = db.Update(func(txn *badger.Txn) error {
				for _, k := range keys {
					if err := txn.Delete(k); err != nil {
						return err
					}
				}
				if last {
					return setSchema(txn, to)
				}
				return nil
			})
			if err != nil || last {
				return err
			}
			if migrateFault != nil {
				if err := migrateFault(to, chunk); err != nil {
					return err
				}
			}
		}
	}
}
