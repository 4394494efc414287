package envelope

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
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
		if len(raw) != want && len(raw) != want-1 {
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
