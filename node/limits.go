package node

import (
	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/syncproto"
)

// Limits of the message format (see package envelope).
const (
	WireVersion           = envelope.WireVersion
	EnvelopeVersion       = envelope.EnvelopeVersion
	LegacyEnvelopeVersion = envelope.LegacyEnvelopeVersion
	MaxEnvelopeSize       = envelope.MaxEnvelopeSize
	MaxBundleMessages     = envelope.MaxBundleMessages
	MaxBatchLeaves        = envelope.MaxBatchLeaves
	MaxTextLen            = envelope.MaxTextLen
	MaxNameLen            = envelope.MaxNameLen
	MaxParents            = envelope.MaxParents
	SecretLen             = envelope.SecretLen
)

// SyncProtocol is the history sync stream protocol.
const SyncProtocol = syncproto.Protocol

// SyncProgress is the state of one history pull from one peer.
type SyncProgress = syncproto.Progress

// DefaultMemoryLimit is the Go soft memory limit a node process runs with
// unless told otherwise (parley --memory-limit, $GOMEMLIMIT): a messenger
// on a laptop or a small relay should stay small. Under a burst the
// collector runs more often instead of letting garbage pile up; the limit
// is soft, so live data that needs more gets it (docs/store.md, "Memory").
const DefaultMemoryLimit = 64 << 20
