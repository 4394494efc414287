package envelope

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
)

// Padding hides a message's exact size from everyone who sees the sealed
// envelope (relays, connected peers, a network observer): a bundle is
// padded up to the next of a few bucket sizes, so a short "ok" and a
// 400-byte text look alike. Buckets double from MinPadBucket; the largest
// is what still fits an envelope.
const (
	MinPadBucket = 512
	// maxPadBucket leaves room for the envelope around the bundle (nonce,
	// AEAD tag, epoch id, field headers).
	maxPadBucket = MaxEnvelopeSize - 128
)

// PadBucket is the padded size of a bundle of n bytes (n itself above the
// largest bucket).
func PadBucket(n int) int {
	if n > maxPadBucket {
		return n
	}
	b := MinPadBucket
	for b < n {
		b *= 2
	}
	return min(b, maxPadBucket)
}

// PadBundle marshals b with zero padding so that its size is exactly the
// bucket PadBucket gives for its size plus 3 (the smallest padding field).
func PadBundle(b *wirepb.Bundle) ([]byte, error) {
	b.Padding = nil
	raw, err := proto.Marshal(b)
	if err != nil {
		return nil, err
	}
	room := PadBucket(len(raw)+3) - len(raw)
	// One padding field (tag, length, zeros) fills room exactly, except where
	// its length prefix grows a byte (room 130, 16387): then an empty padding
	// field goes first. A repeated scalar field decodes as its last value.
	if n := padLen(room); 1+protowire.SizeVarint(uint64(n))+n != room {
		raw = protowire.AppendTag(raw, paddingField, protowire.BytesType)
		raw = protowire.AppendVarint(raw, 0)
		room -= 2
	}
	n := padLen(room)
	raw = protowire.AppendTag(raw, paddingField, protowire.BytesType)
	raw = protowire.AppendVarint(raw, uint64(n))
	return append(raw, make([]byte, n)...), nil
}

// paddingField is Bundle.padding's field number.
var paddingField = (&wirepb.Bundle{}).ProtoReflect().Descriptor().Fields().ByName("padding").Number()

// padLen is the longest padding whose field (one-byte tag, length, bytes)
// takes at most room bytes.
func padLen(room int) int {
	n := room - 2
	for n > 0 && 1+protowire.SizeVarint(uint64(n))+n > room {
		n--
	}
	return max(n, 0)
}
