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

// PadBundle marshals b with zero padding so that its size is the bucket
// PadBucket gives for its size plus the padding field's 3 bytes, or one
// byte less where the field's length prefix grows a byte (no padding length
// fits exactly there).
func PadBundle(b *wirepb.Bundle) ([]byte, error) {
	b.Padding = nil
	base := proto.Size(b)
	target := PadBucket(base + 3)
	if room := target - base; room >= 3 {
		n := room - 1 - protowire.SizeVarint(uint64(room))
		for n > 0 && 1+protowire.SizeVarint(uint64(n))+n > room {
			n--
		}
		if n > 0 {
			b.Padding = make([]byte, n)
		}
	}
	return proto.Marshal(b)
}
