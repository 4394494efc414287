package envelope

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
)

// Peek is what a sync answer filters stored messages by, read from
// SignedMessage bytes without decoding the rest: serving a long history
// reads every message, and a full decode of each cost more than the read.
type Peek struct {
	Author      []byte // Message.author, aliasing raw
	Seq         uint64
	TimestampMs int64
}

// PeekSigned reads Message.author, seq and timestamp_ms from SignedMessage
// bytes as proto.Unmarshal would (the last occurrence of a field wins; a
// field of an unexpected wire type is skipped as unknown). ok is false on
// bytes that do not parse.
func PeekSigned(raw []byte) (p Peek, ok bool) {
	msg, found, ok := lastBytes(raw, 1)
	if !ok || !found {
		return p, ok && found
	}
	for b := msg; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return p, false
		}
		b = b[n:]
		switch {
		case num == 3 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return p, false
			}
			p.Author, b = v, b[n:]
		case (num == 4 || num == 6) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return p, false
			}
			if num == 4 {
				p.Seq = v
			} else {
				p.TimestampMs = int64(v)
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return p, false
			}
			b = b[n:]
		}
	}
	return p, true
}

// lastBytes is the last length-delimited field num of b.
func lastBytes(b []byte, num protowire.Number) (v []byte, found, ok bool) {
	for len(b) > 0 {
		n0, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false, false
		}
		b = b[n:]
		if n0 == num && typ == protowire.BytesType {
			x, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, false, false
			}
			v, found, b = x, true, b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(n0, typ, b)
		if n < 0 {
			return nil, false, false
		}
		b = b[n:]
	}
	return v, found, true
}

// PeekBody reads Message.body and timestamp_ms from SignedMessage bytes,
// decoding only the body: indexing a stored message for search needs its
// words and time, and a full decode (the message bytes, author, parents,
// signature and proof, each copied) cost more than the indexing. Repeated
// body fields merge, as proto.Unmarshal merges them. ok is false on bytes
// that do not parse; a message without a body gives an empty one.
func PeekBody(raw []byte) (body *wirepb.Body, timestampMs int64, ok bool) {
	msg, found, ok := lastBytes(raw, 1)
	if !ok || !found {
		return nil, 0, ok && found
	}
	body = &wirepb.Body{}
	merge := proto.UnmarshalOptions{Merge: true}
	for b := msg; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, 0, false
		}
		b = b[n:]
		switch {
		case num == 8 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || merge.Unmarshal(v, body) != nil {
				return nil, 0, false
			}
			b = b[n:]
		case num == 6 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, 0, false
			}
			timestampMs, b = int64(v), b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, 0, false
			}
			b = b[n:]
		}
	}
	return body, timestampMs, true
}
