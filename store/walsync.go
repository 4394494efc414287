package store

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
)

// Badger's DB.Sync syncs only the memtable that is current when it runs.
// Badger starts a new memtable at the next write request once the current
// one is full, without syncing the old one's log (NNNNN.mem, written through
// a shared memory map); that log goes once the old memtable is flushed to a
// table file, which Badger syncs. A write of another goroutine could start
// a new memtable between a commit's write and its Sync, and the commit's
// messages would then sit unsynced in the old log until the flush: a power
// cut in that window would lose a message already reported sent (or, for
// the background sync, lose received messages while newer ones survive).
// So every sync also syncs every memtable log still on disk: pages written
// through a shared mapping are the file's page cache, which an fsync of the
// file writes back like msync does.

// logSyncer fsyncs a store directory's memtable logs, keeping one open file
// per log until Badger deletes it.
type logSyncer struct {
	dir     string // "": nothing to sync (an in-memory store has no syncer at all; this keeps listings off the working directory)
	mu      sync.Mutex
	files   map[string]*os.File
	dirFile *os.File      // the directory, kept open for listing (logNames)
	runs    atomic.Uint64 // syncs done, for tests
}

func newLogSyncer(dir string) *logSyncer {
	return &logSyncer{dir: dir, files: map[string]*os.File{}}
}

// sync fsyncs every memtable log in the directory and reports how many it
// synced. A log deleted meanwhile was flushed to a synced table: skipped.
func (l *logSyncer) sync() (int, error) {
	if l == nil || l.dir == "" {
		return 0, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	names, err := l.logNames()
	if err != nil {
		return 0, err
	}
	l.runs.Add(1)
	present := make(map[string]bool, len(names))
	synced := 0
	var errs []error
	for _, name := range names {
		present[name] = true
		f := l.files[name]
		if f == nil {
			if f, err = os.OpenFile(name, os.O_RDWR, 0); err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, err)
				}
				continue
			}
			l.files[name] = f
		}
		if err := syncData(f); err != nil {
			errs = append(errs, err)
			continue
		}
		synced++
	}
	for name, f := range l.files {
		if !present[name] { // flushed and deleted by Badger
			f.Close()
			delete(l.files, name)
		}
	}
	return synced, errors.Join(errs...)
}

// logNames lists the memtable logs in the directory, with the caller
// holding mu. Every durable commit syncs, so the listing reads the
// directory through a handle kept open: rewinding it costs one system call
// where a Glob's stat, open and close cost four (4% of a node's CPU at 600
// msg/s on five nodes, docs/bench-2026-12-06/s21-findings.md). Where
// rewinding a directory fails, it lists with Glob.
func (l *logSyncer) logNames() ([]string, error) {
	if l.dirFile == nil {
		if f, err := os.Open(l.dir); err == nil {
			l.dirFile = f
		}
	}
	if l.dirFile != nil {
		_, err := l.dirFile.Seek(0, io.SeekStart)
		var entries []string
		if err == nil {
			entries, err = l.dirFile.Readdirnames(-1)
		}
		if err == nil {
			names := entries[:0]
			for _, e := range entries {
				if strings.HasSuffix(e, ".mem") {
					names = append(names, filepath.Join(l.dir, e))
				}
			}
			return names, nil
		}
		l.dirFile.Close()
		l.dirFile = nil
	}
	return filepath.Glob(filepath.Join(l.dir, "*.mem"))
}

func (l *logSyncer) close() {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, f := range l.files {
		f.Close()
		delete(l.files, name)
	}
	if l.dirFile != nil {
		l.dirFile.Close()
		l.dirFile = nil
	}
}

// sync makes every write so far durable: Badger's own Sync (the current
// memtable's log and the value log), then every memtable log still on disk.
func (s *Store) sync() error {
	if err := s.db.Sync(); err != nil {
		return err
	}
	_, err := s.logs.sync()
	return err
}
