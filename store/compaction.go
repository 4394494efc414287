package store

// CompactionPending reports whether Badger has compaction work it would
// start now (a level over its target, or too many level-0 tables). After a
// bulk write (node.SeedHistory) it stays true for a while; the search
// benchmark waits for it before its settled figures.
func (s *Store) CompactionPending() bool {
	for _, l := range s.db.Levels() {
		if l.Score >= 1 {
			return true
		}
	}
	return false
}
