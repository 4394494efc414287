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
	ok = messageFields(raw, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		switch {
		case num == 3 && typ == protowire.BytesType:
			p.Author = v
		case num == 4 && typ == protowire.VarintType:
			p.Seq = x
		case num == 6 && typ == protowire.VarintType:
			p.TimestampMs = int64(x)
		}
		return true
	})
	return p, ok
}

// messageFields walks the Message inside SignedMessage bytes (its last
// message field, as proto.Unmarshal takes it) and calls field with each
// field: v for a length-delimited one, x for a varint, neither for any
// other wire type. It stops when field returns false. ok is false then, on
// bytes that do not parse, and when raw holds no Message.
func messageFields(raw []byte, field func(num protowire.Number, typ protowire.Type, v []byte, x uint64) bool) (ok bool) {
	msg, found, ok := lastBytes(raw, 1)
	if !ok || !found {
		return false
	}
	for b := msg; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 || !field(num, typ, v, x) {
			return false
		}
		b = b[n:]
	}
	return true
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
	body = &wirepb.Body{}
	merge := proto.UnmarshalOptions{Merge: true}
	ok = messageFields(raw, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) bool {
		switch {
		case num == 8 && typ == protowire.BytesType:
			return merge.Unmarshal(v, body) == nil
		case num == 6 && typ == protowire.VarintType:
			timestampMs = int64(x)
		}
		return true
	})
	if !ok {
		return nil, 0, false
	}
	return body, timestampMs, true
}
