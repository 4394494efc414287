package syncproto

import (
	"context"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// batchSink is a pbio.Writer that keeps what an answer sends.
type batchSink struct {
	ids   []store.MessageID
	lams  []uint64
	done  bool
	after bool // a batch after Done
}

func (b *batchSink) WriteMsg(m proto.Message) error {
	sb := m.(*wirepb.SyncBatch)
	if b.done {
		b.after = true
	}
	for _, raw := range sb.Messages {
		v, err := envelope.DecodeSigned(raw)
		if err != nil {
			return err
		}
		b.ids = append(b.ids, v.ID)
		b.lams = append(b.lams, v.Msg.Lamport)
	}
	b.done = sb.Done
	return nil
}

// fillStore writes n messages by authors authors, round robin, with
// increasing clocks; Raw decodes but is not signed (serving never verifies).
func fillStore(t testing.TB, n, authors int) (*store.Store, store.GroupID, []peer.ID) {
	t.Helper()
	st, err := store.Open("", store.InMemory(), store.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var g store.GroupID
	g[0] = 7
	pubs := make([][]byte, authors)
	ids := make([]peer.ID, authors)
	for i := range pubs {
		k, _, _ := crypto.GenerateEd25519Key(nil)
		pubs[i], _ = crypto.MarshalPublicKey(k.GetPublic())
		ids[i], _ = peer.IDFromPrivateKey(k)
	}
	var batch []store.Message
	for i := range n {
		a := i % authors
		m := &wirepb.Message{Version: envelope.WireVersion, GroupId: g[:], Author: pubs[a], Seq: uint64(i/authors + 1),
			Lamport: uint64(i + 1), TimestampMs: 1_700_000_000_000 + int64(i),
			Body: &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "x"}}}}
		body, err := envelope.MarshalMessage(m)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := proto.Marshal(&wirepb.SignedMessage{Message: body, Signature: make([]byte, 64)})
		batch = append(batch, store.Message{Group: g, ID: envelope.MessageID(body), Author: []byte(ids[a]), Seq: m.Seq,
			Lamport: m.Lamport, TimeMs: m.TimestampMs, Raw: raw})
		if len(batch) == 10_000 || i == n-1 {
			if _, err := st.AppendReceived(context.Background(), batch...); err != nil {
				t.Fatal(err)
			}
			batch = nil
		}
	}
	return st, g, ids
}

// Serving a 100k-message history holds at most one batch: the answer is
// read from the store as it is written, never built whole.
func TestAnswerBoundedMemory(t *testing.T) {
	const n = 100_000
	st, g, _ := fillStore(t, n, 4)
	s := New(Config{Store: st, Log: quiet})
	sink := &batchSink{}
	if err := s.answer(&Group{ID: g}, &wirepb.SyncRequest{}, 0, sink, func() {}); err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != n || !sink.done || sink.after {
		t.Fatalf("sent %d of %d, done %v, after done %v", len(sink.ids), n, sink.done, sink.after)
	}
	for i := 1; i < len(sink.lams); i++ {
		if sink.lams[i] < sink.lams[i-1] {
			t.Fatal("answer not in clock order")
		}
	}
	if held := s.MaxHeld(); held > MaxBatchMessages {
		t.Fatalf("an answer held %d messages at once, want at most one batch (%d)", held, MaxBatchMessages)
	}
}

// The streamed answer sends exactly what Plan lists, in its order, on
// both paths (small: sorted entries; large: one ordered scan), and the
// floor holds back what is older, wanted ids included.
func TestAnswerMatchesPlan(t *testing.T) {
	st, g, authors := fillStore(t, 3*int(smallPlan), 3)
	s := New(Config{Store: st, Log: quiet})
	grp := &Group{ID: g}
	for _, tc := range []struct {
		name string
		have uint64
	}{{"large", 0}, {"small", smallPlan - 100}} {
		req := &wirepb.SyncRequest{SinceMs: 1_700_000_000_000 + 50}
		for _, a := range authors {
			req.Have = append(req.Have, &wirepb.AuthorSeq{Author: []byte(a), Seq: tc.have})
		}
		plan, err := s.Plan(grp, req)
		if err != nil {
			t.Fatal(err)
		}
		sink := &batchSink{}
		if err := s.answer(grp, req, 0, sink, func() {}); err != nil {
			t.Fatal(err)
		}
		if len(sink.ids) != len(plan) {
			t.Fatalf("%s: sent %d, plan %d", tc.name, len(sink.ids), len(plan))
		}
		for i, e := range plan {
			if sink.ids[i] != e.ID {
				t.Fatalf("%s: entry %d differs from the plan", tc.name, i)
			}
		}
	}
	// The floor: an old id asked for by name is not served below it.
	plan, _ := s.Plan(grp, &wirepb.SyncRequest{Have: []*wirepb.AuthorSeq{{Author: []byte(authors[0]), Seq: 1 << 40}, {Author: []byte(authors[1]), Seq: 1 << 40}, {Author: []byte(authors[2]), Seq: 1 << 40}}})
	if len(plan) != 0 {
		t.Fatalf("plan for a full vector: %d", len(plan))
	}
	old, _ := s.Plan(grp, &wirepb.SyncRequest{})
	req := &wirepb.SyncRequest{Want: [][]byte{old[0].ID[:], old[len(old)-1].ID[:]}}
	for _, a := range authors {
		req.Have = append(req.Have, &wirepb.AuthorSeq{Author: []byte(a), Seq: 1 << 40})
	}
	sink := &batchSink{}
	if err := s.answer(grp, req, 1_700_000_000_000+100, sink, func() {}); err != nil {
		t.Fatal(err)
	}
	if len(sink.ids) != 1 || sink.ids[0] != old[len(old)-1].ID {
		t.Fatalf("with a floor, wanted ids served: %d", len(sink.ids))
	}
}

// FuzzAnswer: for any request a member sends, the streamed answer is
// exactly Plan's list (floor 0), on both paths.
func FuzzAnswer(f *testing.F) {
	st, g, authors := fillStore(f, 300, 3)
	old := smallPlan
	smallPlan = 50
	f.Cleanup(func() { smallPlan = old })
	s := New(Config{Store: st, Log: quiet})
	grp := &Group{ID: g}
	full, _ := s.Plan(grp, &wirepb.SyncRequest{})
	seed := &wirepb.SyncRequest{SinceMs: 1_700_000_000_100, Want: [][]byte{full[3].ID[:], full[200].ID[:], []byte("short")}}
	for i, a := range authors {
		seed.Have = append(seed.Have, &wirepb.AuthorSeq{Author: []byte(a), Seq: uint64(i * 40)})
	}
	b, _ := proto.Marshal(seed)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req wirepb.SyncRequest
		if proto.Unmarshal(data, &req) != nil || len(req.Have) > MaxHave || len(req.Want) > MaxWant {
			return
		}
		plan, err := s.Plan(grp, &req)
		if err != nil {
			t.Fatal(err)
		}
		sink := &batchSink{}
		if err := s.answer(grp, &req, 0, sink, func() {}); err != nil {
			t.Fatal(err)
		}
		got := map[store.MessageID]bool{}
		for _, id := range sink.ids {
			if got[id] {
				t.Fatal("sent twice")
			}
			got[id] = true
		}
		if len(got) != len(plan) || !sink.done {
			t.Fatalf("sent %d, plan %d", len(got), len(plan))
		}
		for _, e := range plan {
			if !got[e.ID] {
				t.Fatal("a planned message was not sent")
			}
		}
	})
}
