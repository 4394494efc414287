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
