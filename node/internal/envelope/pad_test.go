package envelope

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Padded bundles take one of a few sizes, whatever their content, and
// decode to the same messages.
func TestPadBundleSizesAreBuckets(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sizes := map[int]bool{}
	for i := 0; i < 3000; i++ {
		var msgs [][]byte
		for j := 0; j <= r.IntN(4); j++ {
			msgs = append(msgs, make([]byte, 1+r.IntN(12000)))
		}
		raw, err := PadBundle(&wirepb.Bundle{Messages: msgs})
		if err != nil {
			t.Fatal(err)
		}
		base := proto.Size(&wirepb.Bundle{Messages: msgs})
		want := PadBucket(base + 3)
		if len(raw) != want {
			t.Fatalf("bundle of %d bytes padded to %d, want the bucket %d", base, len(raw), want)
		}
		sizes[want] = true
		var b wirepb.Bundle
		if err := proto.Unmarshal(raw, &b); err != nil || len(b.Messages) != len(msgs) {
			t.Fatalf("padded bundle decodes to %d messages, %v", len(b.Messages), err)
		}
	}
	if len(sizes) > 9 {
		t.Fatalf("%d distinct sizes: %v", len(sizes), sizes)
	}
	if PadBucket(10) != MinPadBucket || PadBucket(MinPadBucket+1) != 2*MinPadBucket {
		t.Fatalf("buckets: %d %d", PadBucket(10), PadBucket(MinPadBucket+1))
	}
}

// Every length a bundle can have pads to exactly its bucket, the lengths
// where the padding field's length prefix grows a byte included.
func TestPadBundleExactAtEveryLength(t *testing.T) {
	for l := 1; l < 20000; l++ {
		raw, err := PadBundle(&wirepb.Bundle{Messages: [][]byte{make([]byte, l)}})
		if err != nil {
			t.Fatal(err)
		}
		want := PadBucket(proto.Size(&wirepb.Bundle{Messages: [][]byte{make([]byte, l)}}) + 3)
		if len(raw) != want {
			t.Fatalf("message of %d bytes: bundle of %d, want %d", l, len(raw), want)
		}
		var b wirepb.Bundle
		if err := proto.Unmarshal(raw, &b); err != nil || len(b.Messages) != 1 || len(b.Messages[0]) != l {
			t.Fatalf("message of %d bytes: decodes to %d messages, %v", l, len(b.Messages), err)
		}
	}
}

// A full bundle still fits the largest bucket and the envelope limit.
func TestBundlesFitTheLargestBucket(t *testing.T) {
	k, err := DeriveEpochKey(store.GroupID{1}, [EpochIDLen]byte{1}, NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{100, 1000, 3000, 16000, 16360} {
		raws := make([][]byte, 200)
		for i := range raws {
			raws[i] = make([]byte, size)
		}
		for _, b := range Bundles(raws) {
			plain, err := PadBundle(&wirepb.Bundle{Messages: b})
			if err != nil {
				t.Fatal(err)
			}
			if len(plain) != PadBucket(len(plain)) || len(plain) > maxPadBucket {
				t.Fatalf("messages of %d bytes: a bundle of %d bytes is no bucket", size, len(plain))
			}
			env, err := SealEpochEnvelope(k, b...)
			if err != nil {
				t.Fatal(err)
			}
			if len(env) > MaxEnvelopeSize {
				t.Fatalf("messages of %d bytes: envelope of %d bytes", size, len(env))
			}
		}
	}
}
