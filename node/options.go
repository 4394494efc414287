package node

import (
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

type config struct {
	displayName  string
	key          crypto.PrivKey
	inMemory     bool
	store        *store.Store // WithStore: open already, owned by the caller
	relay        bool
	storeOpts    []store.Option
	p2pOpts      []p2p.Option
	syncInterval time.Duration
	redialEvery  time.Duration
	rendezvous   time.Duration
	logger       *slog.Logger
	now          func() time.Time
	// epochRotation and epochGrace: see WithEpochRotation and WithEpochGrace.
	epochRotation time.Duration
	epochGrace    time.Duration
	// keyRotation and keyRetention: see WithKeyRotation.
	keyRotation   time.Duration
	keyRetention  time.Duration
	maintainEvery time.Duration
	// Files (files.go): see WithFilesDir, WithFileLimit, WithAutoDownload,
	// WithFileStallTimeout, WithFileDiskReserve.
	filesDir     string
	fileLimit    int64
	autoDownload int64
	fileStall    time.Duration
	fileReserve  int64
	receiptEvery time.Duration // ux: see WithReceiptInterval (delivery.go)
	sendLinger   time.Duration // see WithSendLinger (send.go)
}

func defaultConfig() config {
	return config{syncInterval: 30 * time.Second, redialEvery: 30 * time.Second, rendezvous: time.Minute,
		logger: slog.Default(), now: time.Now,
		epochRotation: DefaultEpochRotation, epochGrace: DefaultEpochGrace,
		keyRotation: DefaultKeyRotation, keyRetention: DefaultKeyRetention, maintainEvery: time.Minute,
		receiptEvery: DefaultReceiptInterval, autoDownload: DefaultAutoDownload, sendLinger: DefaultSendLinger}
}

// Option configures New.
type Option func(*config)

// WithDisplayName sets the name announced when creating or joining a group.
// A non-empty name is saved in the profile; empty keeps the saved one.
func WithDisplayName(name string) Option { return func(c *config) { c.displayName = name } }

// WithKey makes key the node's identity instead of the profile's stored (or
// a fresh) one. A profile without an identity saves it; one with another
// key fails New with ErrIdentityMismatch.
func WithKey(key crypto.PrivKey) Option { return func(c *config) { c.key = key } }

// WithInMemoryStore keeps the store in memory (tests, benchmarks): New's
// directory is then ignored and may be empty.
func WithInMemoryStore() Option { return func(c *config) { c.inMemory = true } }

// WithStore runs the node on an open store that the caller owns: New's
// directory is ignored, and Close leaves the store open (close it after the
// node). For tests and benchmarks that restart a node on the same store.
func WithStore(st *store.Store) Option { return func(c *config) { c.store = st } }

// WithStoreOptions passes options to the store New opens.
func WithStoreOptions(opts ...store.Option) Option {
	return func(c *config) { c.storeOpts = append(c.storeOpts, opts...) }
}

// WithRelayMode runs the node as a relay: a DHT server, circuit relay and
// AutoNAT service (p2p.WithRelayService) with mDNS off, which joins no group
// and runs no sync, redial or rendezvous. Its default listen addresses have
// no random-port fallback: a relay's address must stay the same.
func WithRelayMode() Option { return func(c *config) { c.relay = true } }

// WithP2P passes options to the network layer (listen addresses, mDNS, a
// mocknet host). They apply after the node's defaults (the profile's listen
// port), so they override them.
func WithP2P(opts ...p2p.Option) Option {
	return func(c *config) { c.p2pOpts = append(c.p2pOpts, opts...) }
}

// WithSyncInterval sets how often groups are re-synced with connected members
// (default 30 s; 0 turns periodic sync off, leaving sync on connect and on gaps).
func WithSyncInterval(d time.Duration) Option { return func(c *config) { c.syncInterval = d } }

// WithRedialInterval sets how often remembered peers that are not connected are redialled.
func WithRedialInterval(d time.Duration) Option { return func(c *config) { c.redialEvery = d } }

// WithRendezvousInterval sets how often groups are looked up in the DHT to
// find members beyond the LAN (default 1 min, ten times less often while a
// member is connected; 0 turns DHT rendezvous off). See package reach.
func WithRendezvousInterval(d time.Duration) Option { return func(c *config) { c.rendezvous = d } }

// WithLogger sets the logger (the node's, the store's and the host's).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// WithClock sets the wall clock (message timestamps only).
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Defaults of the key epoch timers.
const (
	DefaultEpochRotation = 24 * time.Hour
	DefaultEpochGrace    = time.Hour
	DefaultInviteExpiry  = 7 * 24 * time.Hour
)

// WithEpochRotation sets how old a group's key epoch may get before its
// rotator starts a new one (default 24 h; 0: only on membership changes).
func WithEpochRotation(d time.Duration) Option { return func(c *config) { c.epochRotation = d } }

// WithEpochGrace sets how long the secret of an epoch that is no longer
// current is kept (for late messages) before it is deleted (default 1 h).
func WithEpochGrace(d time.Duration) Option { return func(c *config) { c.epochGrace = d } }

// WithKeyRotation sets how old the profile's HPKE key may get before it is
// replaced (default 7 days; 0: never) and how long a replaced key is kept
// for epochs sealed to it (default 14 days).
func WithKeyRotation(rotate, retain time.Duration) Option {
	return func(c *config) { c.keyRotation, c.keyRetention = rotate, retain }
}

// WithMaintenanceInterval sets how often the epoch timers are checked
// (default 1 min; tests).
func WithMaintenanceInterval(d time.Duration) Option { return func(c *config) { c.maintainEvery = d } }

// WithFilesDir keeps files in dir (default: the profile's "files"
// directory; an in-memory node keeps none unless this is set).
func WithFilesDir(dir string) Option { return func(c *config) { c.filesDir = dir } }

// WithFileLimit caps the bytes of files the profile keeps (sent and
// fetched); 0, the default, means no limit beyond the disk.
func WithFileLimit(bytes int64) Option { return func(c *config) { c.fileLimit = bytes } }

// WithAutoDownload sets the size up to which announced files are fetched
// without being asked (default DefaultAutoDownload; 0 turns it off).
func WithAutoDownload(bytes int64) Option { return func(c *config) { c.autoDownload = bytes } }

// WithFileStallTimeout bounds one chunk request to a peer (default 20 s);
// a peer that exceeds it is scored down and the chunk asked elsewhere.
func WithFileStallTimeout(d time.Duration) Option { return func(c *config) { c.fileStall = d } }

// WithFileDiskReserve sets the free space kept on the files' disk: below
// it no chunk is written (fetches pause, sending fails with ErrDiskFull).
// Default: the message store's reserve (store.DefaultDiskReserve unless
// store.WithDiskReserve says otherwise).
func WithFileDiskReserve(bytes int64) Option { return func(c *config) { c.fileReserve = bytes } }

// WithFileOptions applies several options (front ends pass their file
// settings as one).
func WithFileOptions(opts ...Option) Option {
	return func(c *config) {
		for _, o := range opts {
			o(c)
		}
	}
}

// WithReceiptInterval sets the shortest time between two delivery receipts
// to one group (DefaultReceiptInterval); 0 sends none.
func WithReceiptInterval(d time.Duration) Option { return func(c *config) { c.receiptEvery = d } }

// DefaultSendLinger is how long a node sending in bulk holds each batch of
// a group's messages open for more, and holds stored batches back from
// publishing to seal them together (send.go, sender). The first applies
// only when sends arrived on their own while the previous batch was
// stored, so a sender that waits for each answer never waits for it; the
// second only to a batch that starts within this long of the previous
// one, and delays delivery, never the sender's answer. At 800 msg/s over
// 5 nodes the two halved CPU per delivery and p99 to all members; at 375
// msg/s p50 rose from 1.5 to 22 ms (docs/bench-2026-12-04/s8-publish-hold.md).
const DefaultSendLinger = 20 * time.Millisecond

// WithSendLinger sets the send linger (DefaultSendLinger); 0 sends each
// batch as soon as the previous one is stored, and publishes it at once.
func WithSendLinger(d time.Duration) Option { return func(c *config) { c.sendLinger = d } }
