package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// A full disk must be an error, never a crash. Badger writes its memtable
// log (.mem) and new tables through memory maps of sparse files: a page
// written when the file system has no block left faults with SIGBUS and
// kills the process. So the store (1) keeps a reserve of free space and
// refuses every write below it with ErrDiskFull, checked before each commit
// and every second, (2) allocates the blocks of each memtable file as soon
// as it appears (fallocate), so writes into it never need a new block,
// and (3) keeps every value inline (no value-log writes). It resumes by
// itself when space is freed.

// ErrDiskFull means the store refused a write to keep its reserve of free
// disk space; nothing of the write was stored.
var ErrDiskFull = errors.New("disk full")

// errNoFallocate: the platform or file system cannot allocate a file's blocks ahead.
var errNoFallocate = errors.New("fallocate not supported")

// DefaultDiskReserve is the free space kept: several memtables' worth, for
// flushes and compactions to finish.
const DefaultDiskReserve = 64 << 20

// spaceCheckEvery is how often the watcher reads free space and looks for
// new memtable files; checkFresh bounds how stale a write's reading is.
const (
	spaceCheckEvery = time.Second
	checkFresh      = 100 * time.Millisecond
)

// WithDiskReserve sets the free space the store keeps (default
// DefaultDiskReserve); below it, writes fail with ErrDiskFull.
func WithDiskReserve(bytes int64) Option { return func(o *options) { o.reserve = bytes } }

// DiskSpace is the store's view of its file system.
type DiskSpace struct {
	Free    int64 `json:"free"`    // bytes available to this process
	Reserve int64 `json:"reserve"` // bytes kept free
	Full    bool  `json:"full"`    // writes are refused
	Low     bool  `json:"low"`     // free space below twice the reserve: warn
}

type spaceGuard struct {
	dir     string
	reserve int64
	free    atomic.Int64
	full    atomic.Bool
	readAt  atomic.Int64                // unix ns of the last reading
	onFull  func(full bool, free int64) // logging

	mu        sync.Mutex
	allocated map[string]bool // memtable files already fallocated
}

func newSpaceGuard(dir string, reserve int64, onFull func(bool, int64)) *spaceGuard {
	if reserve <= 0 {
		reserve = DefaultDiskReserve
	}
	g := &spaceGuard{dir: dir, reserve: reserve, onFull: onFull, allocated: map[string]bool{}}
	g.free.Store(-1)
	g.refresh()
	return g
}

// refresh reads the free space, flips the full state (with a margin of a
// quarter reserve before resuming, so a store at the edge does not flap),
// and preallocates new memtable files.
func (g *spaceGuard) refresh() {
	g.read()
	g.preallocate()
}

// read takes a free-space reading and flips the full state.
func (g *spaceGuard) read() {
	free, err := freeBytes(g.dir)
	g.readAt.Store(time.Now().UnixNano())
	if err != nil {
		return // unknown: do not block writes on a failed statfs
	}
	g.free.Store(free)
	was := g.full.Load()
	now := free < g.reserve || (was && free < g.reserve+g.reserve/4)
	if now != was {
		g.full.Store(now)
		if g.onFull != nil {
			g.onFull(now, free)
		}
	}
}

// check fails with ErrDiskFull when below the reserve. The reading is at
// most checkFresh old (a statfs; the watcher reads every second and
// preallocates): a commit must not pay a directory scan.
func (g *spaceGuard) check() error {
	if g == nil {
		return nil
	}
	if time.Since(time.Unix(0, g.readAt.Load())) > checkFresh || g.full.Load() {
		g.read()
	}
	if g.full.Load() {
		return fmt.Errorf("%w: %s free on %s, %s kept in reserve", ErrDiskFull,
			humanBytes(g.free.Load()), g.dir, humanBytes(g.reserve))
	}
	return nil
}

func (g *spaceGuard) state() DiskSpace {
	free := g.free.Load()
	return DiskSpace{Free: free, Reserve: g.reserve, Full: g.full.Load(), Low: free >= 0 && free < 2*g.reserve}
}

// preallocate allocates the blocks of every memtable file not yet done.
func (g *spaceGuard) preallocate() {
	mems, _ := filepath.Glob(filepath.Join(g.dir, "*.mem"))
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range mems {
		if g.allocated[m] {
			continue
		}
		if err := allocate(m); err == nil || errors.Is(err, errNoFallocate) {
			g.allocated[m] = true
		}
	}
	if len(g.allocated) > 4*len(mems)+16 { // forget deleted files
		for m := range g.allocated {
			if !strings.HasSuffix(m, ".mem") || !fileExists(m) {
				delete(g.allocated, m)
			}
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// spaceWatcher refreshes the reading every second, so the store notices a
// disk filled by someone else before its next write, and a freed disk.
func (s *Store) spaceWatcher() {
	defer s.wg.Done()
	t := time.NewTicker(spaceCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.space.refresh()
		case <-s.stop:
			return
		}
	}
}

// DiskSpace reports free space and whether writes are refused (zero for an
// in-memory store).
func (s *Store) DiskSpace() DiskSpace {
	if s.space == nil {
		return DiskSpace{Free: -1}
	}
	return s.space.state()
}

// update is db.Update behind the free-space check: every write of the
// store but the message commits (which check per batch) goes through it.
func (s *Store) update(fn func(txn *badger.Txn) error) error {
	if err := s.space.check(); err != nil {
		return err
	}
	// An erase's DropPrefix blocks Badger's writes while it runs
	// ("Writes are blocked"): wait for it instead of failing.
	s.dropGate.RLock()
	defer s.dropGate.RUnlock()
	return s.db.Update(fn)
}

func humanBytes(n int64) string {
	switch {
	case n < 0:
		return "unknown"
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
