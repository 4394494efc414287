package files

import (
	"fmt"
	"sync/atomic"

	"github.com/parley-chat/parley/store"
)

// ErrDiskFull: the file system holding the files has less free space than
// the reserve kept; nothing more is written until space is freed. It is
// the message store's error, so one errors.Is covers both.
var ErrDiskFull = store.ErrDiskFull

// space keeps a reserve of free disk space under the store's directory:
// chunks are written outside the message store, so they must respect the
// same reserve or a fetch could fill the disk the message store needs.
type space struct {
	reserve atomic.Int64 // bytes kept free; 0: no check
	extra   atomic.Pointer[func() error]
}

// SetReserve sets the free space the store keeps (0: none).
func (s *Store) SetReserve(bytes int64) { s.space.reserve.Store(bytes) }

// SetSpaceCheck adds a check asked with the free-space one (the message
// store's own full state).
func (s *Store) SetSpaceCheck(fn func() error) { s.space.extra.Store(&fn) }

// CheckSpace fails with ErrDiskFull below the reserve. A statfs costs about
// a microsecond; a fetch asks it before each range it receives (at most
// 4 MiB), an import before every chunk.
func (s *Store) CheckSpace() error {
	if fn := s.space.extra.Load(); fn != nil && *fn != nil {
		if err := (*fn)(); err != nil {
			return err
		}
	}
	reserve := s.space.reserve.Load()
	if reserve <= 0 {
		return nil
	}
	free, err := freeBytes(s.dir)
	if err != nil {
		return nil // unknown: do not block on a failed statfs
	}
	if free < reserve {
		return fmt.Errorf("%w: %s free for files in %s, %s kept in reserve", ErrDiskFull, human(free), s.dir, human(reserve))
	}
	return nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
