package store

import (
	"errors"
	"math/rand/v2"
	"time"
)

// DefaultSyncEvery bounds how long a received message may wait for its fsync.
const DefaultSyncEvery = time.Second

// lazySyncer fsyncs what AppendReceived wrote, at most once per interval.
func (s *Store) lazySyncer() {
	defer s.wg.Done()
	// A random phase: stores opened together (a test, a bench, several
	// profiles) would otherwise all fsync in the same instant every period.
	select {
	case <-time.After(rand.N(s.syncEvery)):
	case <-s.stop:
		return
	}
	t := time.NewTicker(s.syncEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stop:
			return // Close syncs what is left
		}
		if s.unsynced.Swap(false) {
			if err := s.sync(); err != nil {
				s.unsynced.Store(true)
				s.log.Error("background sync failed", "err", err)
			}
		}
	}
}

// committer is the single writer of message keys: it batches whatever is
// queued into one transaction and one fsync (group commit).
func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *commitReq
		select {
		case first = <-s.commits:
		case <-s.stop:
			// Drain what was queued before Close.
			for {
				select {
				case r := <-s.commits:
					s.commitBatch([]*commitReq{r}, r.durable)
				default:
					return
				}
			}
		}
		var batch []*commitReq
		n, durable := 0, false
		take := func(r *commitReq) {
			batch = append(batch, r)
			n += len(r.msgs)
			durable = durable || r.durable
		}
		take(first)
	more:
		for n < maxBatch {
			select {
			case r := <-s.commits:
				take(r)
			default:
				break more
			}
		}
		// An fsync costs about 100 us of CPU (the journal commit included),
		// so under load durable commits are spaced at least minSyncGap
		// apart, and what queues meanwhile shares the next one.
		if wait := time.Until(s.lastSync.Add(minSyncGap)); durable && wait > 0 {
			t := time.NewTimer(wait)
		linger:
			for n < maxBatch {
				select {
				case r := <-s.commits:
					take(r)
				case <-t.C:
					break linger
				}
			}
			t.Stop()
		}
		s.commitBatch(batch, durable)
		if s.ids.Load().full() {
			s.growIDFilter()
		}
	}
}

// growIDFilter rebuilds the id filter for twice the ids now stored. It runs
// on the committer between batches, the only place ids are added, so the
// scan sees every id the old filter holds (or a failed commit's, dropped).
func (s *Store) growIDFilter() {
	f, err := buildIDFilter(s.db)
	if err != nil {
		s.log.Warn("rebuild id filter; keeping the old one", "err", err)
		s.ids.Load().capacity *= 2 // try again later, not on every batch
		return
	}
	s.ids.Store(f)
}

// minSyncGap spaces durable commits under load (see committer).
const minSyncGap = 2 * time.Millisecond

// commitBatch writes batch; when durable (any request is), it fsyncs
// before answering.
func (s *Store) commitBatch(batch []*commitReq, durable bool) {
	batch = s.runExclusive(batch) // erasures (erase.go), between commits
	err := s.space.check()
	if err == nil {
		err = s.writeBatch(batch)
	}
	if err == nil {
		if durable {
			s.unsynced.Store(false) // this Sync covers every earlier write too
			err = s.sync()
			s.lastSync = time.Now()
		} else {
			s.unsynced.Store(true)
		}
	}
	if err != nil && !errors.Is(err, ErrDiskFull) { // the guard logs a full disk once
		s.log.Error("commit failed", "err", err)
		for _, r := range batch {
			for i := range r.inserted {
				r.inserted[i] = false
			}
		}
	}
	for _, r := range batch {
		r.done <- err
	}
}

// writeBatch writes all requests in as few transactions as fit Badger's
// limits. A transaction is committed only whole: if one ever fails, nothing
// of it is written and the messages after the last commit report false.
func (s *Store) writeBatch(batch []*commitReq) error {
	w := s.newBatchWriter()
	defer w.discard()
	type pos struct{ r, i int }
	var uncommitted []pos
	for ri, r := range batch {
		for i := range r.msgs {
			m := &r.msgs[i]
			cnt, size := entryCost(m)
			if w.count+cnt > w.maxCount || w.size+size > w.maxSize {
				if err := w.commit(); err != nil {
					return err
				}
				w.reset()
				uncommitted = uncommitted[:0]
			}
			ins, err := w.insert(m)
			if err != nil {
				for _, p := range uncommitted {
					batch[p.r].inserted[p.i] = false
				}
				return err
			}
			r.inserted[i] = ins
			uncommitted = append(uncommitted, pos{ri, i})
			w.count += cnt
			w.size += size
		}
	}
	if err := w.commit(); err != nil {
		for _, p := range uncommitted {
			batch[p.r].inserted[p.i] = false
		}
		return err
	}
	return nil
}

// entryCost is an upper bound on the entries and bytes one insert writes.
func entryCost(m *Message) (count, size int64) {
	const keyOverhead = 2 + GroupIDLen + 8 + MessageIDLen + 1 + maxAuthorLen + 8 + 64 // largest key + Badger's per-entry overhead
	count = 7 + 3*int64(len(m.Parents)) + int64(len(m.Targets)) + 1 + int64(len(m.Terms)) + 1
	return count, count*keyOverhead + int64(len(m.Raw))
}
