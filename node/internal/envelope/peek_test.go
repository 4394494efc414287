package envelope

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// signedWithBody signs a message of a fresh author carrying body, at time ms.
func signedWithBody(t testing.TB, body *wirepb.Body, ms int64) []byte {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	var g store.GroupID
	m := text(g, pub, 1, 1, make([]byte, 32), make([]byte, 32))
	m.Body, m.TimestampMs = body, ms
	v, err := SignMessage(key, m)
	if err != nil {
		t.Fatal(err)
	}
	return v.Raw
}

// checkPeekBody fails unless PeekBody reads what a full decode does.
func checkPeekBody(t *testing.T, raw []byte) {
	t.Helper()
	body, ms, ok := PeekBody(raw)
	sm, m, err := UnmarshalSigned(raw)
	if err != nil || sm.Message == nil {
		return // stored bytes always decode; PeekBody need not refuse what this does
	}
	want := m.Body
	if want == nil {
		want = &wirepb.Body{}
	}
	if !ok || ms != m.TimestampMs || !proto.Equal(body, want) {
		t.Fatalf("peek ok=%v time %d body %v; decode time %d body %v", ok, ms, body, m.TimestampMs, want)
	}
}

func TestPeekBody(t *testing.T) {
	poll := &wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: "lunch where", Options: []string{"north", "south"}}}}
	edit := &wirepb.Body{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: make([]byte, 32), Text: "fixed typo"}}}
	for name, raw := range map[string][]byte{
		"text":    signedWithBody(t, &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "hello there"}}}, 1700000000123),
		"poll":    signedWithBody(t, poll, 42),
		"edit":    signedWithBody(t, edit, -5),
		"no body": signedWithBody(t, nil, 7),
	} {
		t.Run(name, func(t *testing.T) { checkPeekBody(t, raw) })
	}

	// Two body fields in one Message merge (proto.Unmarshal's rule), and the
	// last timestamp wins: a Message built by hand, not by Marshal.
	var msg []byte
	msg = protowire.AppendTag(msg, 6, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 1)
	first, _ := proto.Marshal(&wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: "q"}}})
	second, _ := proto.Marshal(&wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Options: []string{"a", "b"}}}})
	for _, b := range [][]byte{first, second} {
		msg = protowire.AppendTag(msg, 8, protowire.BytesType)
		msg = protowire.AppendBytes(msg, b)
	}
	msg = protowire.AppendTag(msg, 6, protowire.VarintType)
	msg = protowire.AppendVarint(msg, 99)
	raw, _ := proto.Marshal(&wirepb.SignedMessage{Message: msg})
	checkPeekBody(t, raw)
	if body, ms, _ := PeekBody(raw); ms != 99 || body.GetPoll().GetQuestion() != "q" || len(body.GetPoll().GetOptions()) != 2 {
		t.Fatalf("merged body %v at %d", body, ms)
	}

	// An erased body is empty; truncated bytes do not parse.
	if _, _, ok := PeekBody(nil); ok {
		t.Fatal("empty bytes read as a message")
	}
	whole := signedWithBody(t, poll, 1)
	if _, _, ok := PeekBody(whole[:len(whole)-70]); ok {
		t.Fatal("truncated bytes read as a message")
	}
}

// FuzzPeekBody: wherever UnmarshalSigned decodes, PeekBody reads the same
// body and time.
func FuzzPeekBody(f *testing.F) {
	f.Add(signedWithBody(f, &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "hi there"}}}, 3))
	f.Add(signedWithBody(f, &wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: "q", Options: []string{"x"}}}}, 4))
	f.Add([]byte{0x0a, 0x04, 0x42, 0x02, 0x0a, 0x00})
	f.Add([]byte{0x0a, 0x06, 0x42, 0x00, 0x30, 0x05, 0x42, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) { checkPeekBody(t, raw) })
}

// BenchmarkIndexDecode: what the search indexer decodes of a stored
// message, in full (DecodeSigned, as before) and its body only (PeekBody).
func BenchmarkIndexDecode(b *testing.B) {
	raw := signedWithBody(b, &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{
		Text: "the quick brown fox jumps over the lazy dog, twice, before lunch"}}}, 1700000000123)
	b.Run("full", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := DecodeSigned(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("body", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, ok := PeekBody(raw); !ok {
				b.Fatal("no body")
			}
		}
	})
}
