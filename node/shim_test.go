package node

import (
	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/reach"
)

// Short names for the message format's functions, as the tests of this
// package used them before the format moved to package envelope.
type (
	verified  = envelope.Verified
	groupKeys = envelope.GroupKeys
)

const maxLamport = envelope.MaxLamport

var (
	signBatch         = envelope.SignBatch
	signMessage       = envelope.SignMessage
	verifySigned      = envelope.VerifySigned
	sealEnvelope      = envelope.SealEnvelope
	openEnvelope      = envelope.OpenEnvelope
	bundles           = envelope.Bundles
	merkleProofs      = envelope.MerkleProofs
	merkleRoot        = envelope.MerkleRoot
	checkFields       = envelope.CheckFields
	authorID          = envelope.AuthorID
	decodeSigned      = envelope.DecodeSigned
	messageID         = envelope.MessageID
	deriveKeys        = envelope.DeriveKeys
	rendezvousNS      = envelope.RendezvousNS
	rendezvousEpochOf = envelope.RendezvousEpochOf
	relayPeers        = reach.RelayPeers
)
