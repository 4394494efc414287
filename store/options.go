package store

import (
	"errors"
	"log/slog"
	"time"
)

type options struct {
	inMemory   bool
	logger     *slog.Logger
	syncEvery  time.Duration
	lockWait   time.Duration
	passphrase string
	reserve    int64 // free disk space kept (WithDiskReserve)
	vlogSize   int64 // tests: Badger's value log file size (default 1 GiB, mapped at twice that)
}

// WithPassphrase encrypts the store at rest with a key derived from p
// (Argon2id, then Badger's AES encryption). A new store opened with it is
// created encrypted; an encrypted store cannot be opened without it
// (ErrPassphraseRequired, ErrWrongPassphrase); an unencrypted store opened
// with it fails with ErrNotEncrypted. An empty p means no passphrase.
func WithPassphrase(p string) Option { return func(o *options) { o.passphrase = p } }

// ErrLocked means another process has the store open (Badger allows one).
var ErrLocked = errors.New("store: in use by another process")

// WithLockWait makes Open wait up to d for another process to release the
// store (a CLI command reading it briefly) before failing with ErrLocked.
func WithLockWait(d time.Duration) Option { return func(o *options) { o.lockWait = d } }

// WithSyncEvery sets how long a received message may wait for its fsync
// (default DefaultSyncEvery). Own messages are always fsynced before Append
// returns.
func WithSyncEvery(d time.Duration) Option { return func(o *options) { o.syncEvery = d } }

// Option configures Open.
type Option func(*options)

// InMemory keeps everything in memory (tests and benchmarks only).
func InMemory() Option { return func(o *options) { o.inMemory = true } }

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }
