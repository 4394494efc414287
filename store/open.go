package store

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts ...Option) (*Store, error) {
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	bo := badger.DefaultOptions(dir).
		WithLogger(nil).
		WithSyncWrites(false). // we fsync once per commit batch instead
		WithNumVersionsToKeep(1).
		// Sized for a messenger, not a database server: a message is about
		// 1 KB with its index keys, so an 8 MiB memtable holds thousands;
		// at most three exist (one filling, two flushing) before writes
		// wait. Each flush (and the compactions it leads to) is a burst of
		// CPU: with 4 MiB memtables the stores flush and compact twice as
		// often, which cost a third of the zero-loss throughput and 13% on a
		// 1M catch-up. Each store draws its size, 6 to 10 MiB (memTableSize).
		WithMemTableSize(memTableSize()).
		WithNumMemtables(3).
		// The table builders that flush and compact keep their buffers in
		// a pool Badger holds on to (up to 8 builders, each sized from its
		// table), in the Go heap. Badger doubles the table size at each
		// level below the first; 1 MiB tables at every level keep those
		// buffers small: about half the anonymous memory per node under
		// throughput load and 40% less heap after a 1M catch-up, at the
		// same zero-loss throughput and catch-up speed. The cost is files:
		// one open file and one mapping per MiB of store (docs/store.md,
		// "Memory").
		WithBaseTableSize(1 << 20).
		// Every message inline in the LSM tree (WAL and tables), never in
		// the value log: erasing a body (erase.go) can then purge every copy
		// with DropPrefix, which the value log does not support, and the
		// value log (a sparse file mapped at twice its size) is never
		// written, so it cannot fault on a full disk (space.go). Bodies in
		// the value log, sealed so that erase could still purge them, made
		// a 1M catch-up 10% faster but a 100k one 10-15% slower and took
		// 19-46% more disk (docs/bench-2026-12-05/s13-findings.md).
		WithValueThreshold(maxInlineValue).
		// Level 0 is compacted once it holds 12 memtables' worth (Badger: 5),
		// into a first level of at least 128 MiB (Badger: 10 MiB). Every
		// level-0 table spans the whole key space (the message ids of i/ are
		// random), so each level-0 compaction rewrites nearly all of the level
		// it merges into; with Badger's sizes a catch-up rewrote its history
		// again every 40 MB it wrote, on up to three levels. Fewer, larger
		// rounds into fewer levels: a 1,000,000-message catch-up in 26.6 s
		// against 36, a 100,000 one in 1.6-1.8 s against 1.9. 24 tables
		// were faster still (23-24 s) but a 30-minute soak showed the cost of
		// that many: a read consults every level-0 table, and p99 crept from
		// 11 to about 100 ms as they filled, until the compaction
		// (docs/bench-2026-12-05/s16-findings.md). Writes stall only at 24.
		WithNumLevelZeroTables(12).
		WithNumLevelZeroTablesStall(24).
		WithBaseLevelSize(128 << 20).
		WithNumCompactors(2).
		WithBlockCacheSize(8 << 20).
		WithIndexCacheSize(4 << 20).
		// One goroutine (the committer) reads and writes message keys; every
		// other write is a blind Set. No transaction can conflict with another,
		// so Badger need not track every read to check.
		WithDetectConflicts(false)
	bo.TableSizeMultiplier = 1 // 1 MiB tables at every level (above); Badger v4 has no With method for it
	if o.vlogSize > 0 {
		bo = bo.WithValueLogFileSize(o.vlogSize)
	}
	var dbKey []byte
	var err error
	if o.inMemory {
		// No value log in memory: values must stay inline in the LSM tree
		// (a batch must fit the largest inline value: 8 MiB memtables do).
		bo = bo.WithInMemory(true).WithDir("").WithValueDir("").WithValueThreshold(maxRawLen).
			WithMemTableSize(8 << 20) // Badger's largest value is 15% of it: above maxRawLen
		if o.passphrase != "" { // nothing reaches a disk; only for tests of callers
			_, dbKey, err = newKeyFile(o.passphrase)
		}
	} else {
		dbKey, err = storeKey(dir, o.passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if dbKey != nil {
		// Badger encrypts every table, value log and WAL with data keys it
		// keeps in KEYREGISTRY under this master key. Encryption needs the
		// block and index caches set above (Badger panics without them).
		bo = bo.WithEncryptionKey(dbKey).WithEncryptionKeyRotationDuration(keyRotation)
	}
	db, err := openBadger(bo, o.lockWait)
	// dbKey is not cleared: Badger keeps using this slice (key rotation).
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	if err := migrate(db, o.logger); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	ids, err := buildIDFilter(db)
	if err == nil {
		var gaps *gapSet
		if gaps, err = loadGapSet(db); err == nil {
			var space *spaceGuard
			if !o.inMemory {
				log := o.logger.With("component", "store")
				space = newSpaceGuard(dir, o.reserve, func(full bool, free int64) {
					if full {
						log.Error("disk full: refusing writes until space is freed", "free", humanBytes(free))
					} else {
						log.Info("disk space available again: writes resume", "free", humanBytes(free))
					}
				})
			}
			s := start(db, o, ids, gaps, space)
			s.encrypted = dbKey != nil
			if err = s.finishErases(); err == nil {
				return s, nil
			}
			s.Close()
			return nil, fmt.Errorf("store: open %s: finish erase: %w", dir, err)
		}
	}
	db.Close()
	return nil, fmt.Errorf("store: open %s: index: %w", dir, err)
}

// openBadger opens the database, retrying for up to wait while another
// process holds its directory lock. Badger reports the lock only in its error
// text; this is the one place that reads it.
func openBadger(bo badger.Options, wait time.Duration) (*badger.DB, error) {
	deadline := time.Now().Add(wait)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 200*time.Millisecond) {
		db, err := badger.Open(bo)
		if err == nil {
			return db, nil
		}
		if !strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, err
		}
		if !time.Now().Before(deadline) {
			return nil, fmt.Errorf("%w: %v", ErrLocked, err)
		}
		time.Sleep(min(delay, time.Until(deadline)))
	}
}

// start wraps an open database and starts the writer goroutines.
func start(db *badger.DB, o options, ids *idFilter, gaps *gapSet, space *spaceGuard) *Store {
	s := &Store{
		db:        db,
		log:       o.logger.With("component", "store"),
		commits:   make(chan *commitReq, 256),
		stop:      make(chan struct{}),
		syncEvery: o.syncEvery,
		gaps:      gaps,
		recent:    newRecentIDs(),
		space:     space,
	}
	if opt := db.Opts(); !opt.InMemory {
		s.logs = newLogSyncer(opt.Dir)
	}
	s.ids.Store(ids)
	if s.syncEvery <= 0 {
		s.syncEvery = DefaultSyncEvery
	}
	s.wg.Add(2)
	go s.committer()
	go s.lazySyncer()
	if space != nil {
		s.wg.Add(1)
		go s.spaceWatcher()
	}
	return s
}

// memTableSize draws a store's memtable size, 6 to 10 MiB (8 on average).
// Stores that receive the same messages (the members of a group on one
// machine: several profiles, a test, the benchmark) fill equal memtables in
// the same instant and flush them together, and a flush is a burst of CPU
// and allocation: five stores on two cores at 3,000 msg/s stalled every
// message for about 300 ms every 2 s, p99 204-262 ms. Sizes drawn apart,
// their flushes drift apart: p99 70-86 ms, CPU per delivery 60-68 us
// against 72-82, and the throughput run's peak RSS per node 201-242 MB
// against 339-352. The cost: level 0 is compacted after 12 memtables, so
// the stores that drew small ones compact after 72 MB of writes rather
// than 96, and in the benchmark's short throughput search more steps meet
// a compaction (docs/bench-2026-12-05/s17-findings.md). 7 to 9 MiB did
// not part the flushes well enough (p99 272-288 ms, two runs). The same
// reason gives the lazy syncer a random phase (commit.go).
func memTableSize() int64 { return 6<<20 + rand.Int64N(4<<20) }
