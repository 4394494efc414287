package wirepb_test

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/parley-chat/parley/node/wirepb"
)

var update = flag.Bool("update", false, "rewrite the golden wire encodings in testdata/ from the fixed values")

// pattern returns n bytes start, start+1, ... (mod 256): fixed, and easy to
// spot in a hex dump.
func pattern(start byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = start + byte(i)
	}
	return b
}

// goldenCase is one wire message with fixed field values and the file its
// encoding is pinned in.
type goldenCase struct {
	name string // testdata/<name>.hex
	msg  proto.Message
}

// goldenCases sets every field of every message in wire.proto at least once
// (TestGoldenCoversWireProto checks), with sizes and values like real ones.
func goldenCases() []goldenCase {
	body := &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "héllo, wörld ✓"}}}
	return []goldenCase{
		{"envelope", &wirepb.Envelope{Version: 2, Nonce: pattern(0x00, 24), Ciphertext: pattern(0x80, 48)}},
		{"envelope_v3", &wirepb.Envelope{Version: 3, Nonce: pattern(0x00, 24), Ciphertext: pattern(0x80, 48), Epoch: pattern(0x33, 32)}},
		{"bundle", &wirepb.Bundle{Messages: [][]byte{pattern(0x10, 12), pattern(0x20, 5)}, Padding: make([]byte, 7)}},
		{"signed_message", &wirepb.SignedMessage{Message: pattern(0x30, 20), Signature: pattern(0xa0, 64)}},
		{"signed_message_batch", &wirepb.SignedMessage{Message: pattern(0x30, 20), Signature: pattern(0xb0, 64),
			Batch: &wirepb.BatchProof{Count: 5, Index: 4, Path: [][]byte{pattern(0x40, 32), pattern(0x60, 32)}}}},
		{"batch_proof", &wirepb.BatchProof{Count: 256, Index: 255, Path: [][]byte{pattern(0xc0, 32)}}},
		{"message", &wirepb.Message{Version: 1, GroupId: pattern(0x01, 32), Author: pattern(0x08, 36), Seq: 300,
			Lamport: 1 << 40, TimestampMs: 1_767_225_600_123, Parents: [][]byte{pattern(0xd0, 32), pattern(0xe0, 32)}, Body: body}},
		{"message_epoch", &wirepb.Message{Version: 1, GroupId: pattern(0x01, 16), Author: pattern(0x08, 36), Seq: 2,
			Lamport: 9, TimestampMs: 1_767_225_600_123, Body: body, Epoch: pattern(0x33, 32)}},
		{"message_prev", &wirepb.Message{Version: 1, GroupId: pattern(0x01, 16), Author: pattern(0x08, 36), Seq: 3,
			Lamport: 10, TimestampMs: 1_767_225_600_456, Body: body, Epoch: pattern(0x33, 32), Prev: pattern(0xc8, 32)}},
		{"body_membership", &wirepb.Body{Kind: &wirepb.Body_Membership{Membership: &wirepb.Membership{Op: pattern(0x44, 40)}}}},
		{"membership", &wirepb.Membership{Op: pattern(0x44, 40)}},
		{"body_text", body},
		{"body_join", &wirepb.Body{Kind: &wirepb.Body_Join{Join: &wirepb.Join{DisplayName: "alice"}}}},
		{"text", &wirepb.Text{Text: "plain text"}},
		{"join", &wirepb.Join{DisplayName: "Bob Ünder"}},
		{"invite", &wirepb.Invite{Version: 1, GroupName: "friends", Secret: pattern(0x50, 32), Inviter: pattern(0x00, 38),
			InviterAddrs: [][]byte{{0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1}, {0x04, 192, 0, 2, 7, 0x91, 0x02, 0x0f, 0xa1, 0xcc, 0x03}},
			CreatedMs:    1_767_225_600_000, HistoryFromJoin: true, Lamport: 42}},
		{"invite_v2", &wirepb.Invite{Version: 2, GroupName: "friends", Inviter: pattern(0x00, 38),
			InviterAddrs: [][]byte{{0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1}}, CreatedMs: 1_767_225_600_000, HistoryFromJoin: true,
			Lamport: 42, Token: pattern(0x01, 65), GroupId: pattern(0x01, 16)}},
		{"join_challenge", &wirepb.JoinChallenge{Version: 1, Challenge: pattern(0x55, 32)}},
		{"join_request", &wirepb.JoinRequest{Version: 1, Group: pattern(0x01, 32), InviteId: pattern(0x21, 16), Key: pattern(0x31, 32),
			HpkeKey: pattern(0x41, 32), Name: "carol", Challenge: pattern(0x55, 32), Proof: pattern(0x61, 64)}},
		{"join_reply", &wirepb.JoinReply{Version: 1, Ok: true, Code: "expired", Error: "invite expired", GroupSecret: pattern(0x50, 32),
			GroupName: "friends", HistoryFromJoin: true, Lamport: 42, CreatedMs: 1_767_225_600_000, Ops: [][]byte{pattern(0x44, 40), pattern(0x66, 8)}}},
		{"sync_hello", &wirepb.SyncHello{Version: 1, Nonce: pattern(0x70, 32), Proof: pattern(0x90, 32)}},
		{"sync_hello_reply", &wirepb.SyncHelloReply{Version: 1, Ok: true, Proof: pattern(0xf0, 32)}},
		{"author_seq", &wirepb.AuthorSeq{Author: pattern(0x08, 36), Seq: 7}},
		{"sync_request", &wirepb.SyncRequest{Have: []*wirepb.AuthorSeq{{Author: pattern(0x08, 36), Seq: 7}, {Author: pattern(0x28, 36), Seq: 1 << 20}},
			Want: [][]byte{pattern(0xd0, 32)}, SinceMs: 1_767_225_000_000}},
		{"text_reply", &wirepb.Text{Text: "agreed", ReplyTo: pattern(0xd0, 32), Mentions: [][]byte{pattern(0x00, 38)}}},
		{"body_reaction", &wirepb.Body{Kind: &wirepb.Body_Reaction{Reaction: &wirepb.Reaction{Target: pattern(0xd0, 32), Emoji: "👍", Remove: true}}}},
		{"body_edit", &wirepb.Body{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: pattern(0xd0, 32), Text: "fixed typo"}}}},
		{"body_delete", &wirepb.Body{Kind: &wirepb.Body_Delete{Delete: &wirepb.Delete{Target: pattern(0xd0, 32),
			TargetAuthor: pattern(0x08, 36), TargetSeq: 12, TargetLamport: 99}}}},
		{"body_poll", &wirepb.Body{Kind: &wirepb.Body_Poll{Poll: &wirepb.Poll{Question: "lunch?", Options: []string{"pizza", "soup"},
			Multi: true, Anonymous: true}}}},
		{"body_vote", &wirepb.Body{Kind: &wirepb.Body_Vote{Vote: &wirepb.Vote{Poll: pattern(0xd0, 32), Choices: []uint32{0, 3}}}}},
		{"body_poll_close", &wirepb.Body{Kind: &wirepb.Body_PollClose{PollClose: &wirepb.PollClose{Poll: pattern(0xd0, 32)}}}},
		{"body_receipt", &wirepb.Body{Kind: &wirepb.Body_Receipt{Receipt: &wirepb.Receipt{
			Stored: []*wirepb.AuthorSeq{{Author: pattern(0x08, 36), Seq: 7}}, ReadUpTo: pattern(0xd0, 32)}}}},
		{"body_file", &wirepb.Body{Kind: &wirepb.Body_File{File: &wirepb.FileAnnounce{Name: "photo.jpg", Size: 5 << 20,
			Mime: "image/jpeg", Root: pattern(0x70, 32), Key: pattern(0x90, 32), ChunkSize: 256 << 10, ContentHash: pattern(0xb0, 32)}}}},
		{"reaction", &wirepb.Reaction{Target: pattern(0xd0, 32), Emoji: "🎉", Remove: true}},
		{"edit", &wirepb.Edit{Target: pattern(0xd0, 32), Text: "v2"}},
		{"delete", &wirepb.Delete{Target: pattern(0xd0, 32), TargetAuthor: pattern(0x08, 36), TargetSeq: 1, TargetLamport: 2}},
		{"delete_with_edits", &wirepb.Delete{Target: pattern(0xd0, 32), TargetAuthor: pattern(0x08, 36), TargetSeq: 1, TargetLamport: 2,
			Edits: []*wirepb.ErasedEdit{{Id: pattern(0xe0, 32), Seq: 2, Lamport: 5}, {Id: pattern(0xe1, 32), Seq: 3, Lamport: 9}}}},
		{"erased_edit", &wirepb.ErasedEdit{Id: pattern(0xe0, 32), Seq: 2, Lamport: 5}},
		{"poll", &wirepb.Poll{Question: "when?", Options: []string{"mon", "tue", "wed"}, Multi: true, Anonymous: true}},
		{"vote", &wirepb.Vote{Poll: pattern(0xd0, 32), Choices: []uint32{2}}},
		{"poll_close", &wirepb.PollClose{Poll: pattern(0xd0, 32)}},
		{"receipt", &wirepb.Receipt{Stored: []*wirepb.AuthorSeq{{Author: pattern(0x28, 36), Seq: 1 << 20}}, ReadUpTo: pattern(0xd0, 32)}},
		{"file_announce", &wirepb.FileAnnounce{Name: "notes.txt", Size: 12, Mime: "text/plain", Root: pattern(0x70, 32),
			Key: pattern(0x90, 32), ChunkSize: 1 << 20, ContentHash: pattern(0xb0, 32)}},
		{"file_announce_v2", &wirepb.FileAnnounce{Name: "notes.txt", Size: 12, Mime: "text/plain", Root: pattern(0x70, 32),
			Key: pattern(0x90, 32), ChunkSize: 256 << 10, ContentHash: pattern(0xb0, 32), Version: 2}},
		{"sync_batch", &wirepb.SyncBatch{Messages: [][]byte{pattern(0x11, 9), pattern(0x22, 3)}, Remaining: 1000, Done: true}},
	}
}

func goldenPath(name string) string { return filepath.Join("testdata", name+".hex") }

// encodeGolden is the golden file's text: a comment naming the message, then
// the encoding in hex, 32 bytes a line.
func encodeGolden(msg proto.Message, b []byte) []byte {
	var out bytes.Buffer
	fmt.Fprintf(&out, "# %s, wire.proto encoding (go test ./node/wirepb -run TestGolden -update rewrites it)\n",
		msg.ProtoReflect().Descriptor().FullName())
	h := hex.EncodeToString(b)
	for len(h) > 64 {
		out.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	out.WriteString(h + "\n")
	return out.Bytes()
}

func decodeGolden(text []byte) ([]byte, error) {
	var h strings.Builder
	for _, line := range strings.Split(string(text), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			h.WriteString(line)
		}
	}
	return hex.DecodeString(h.String())
}

// TestGolden pins the wire format: each fixed message encodes to exactly the
// bytes in its golden file, and the golden bytes decode to exactly the fixed
// message (no unknown fields). A renumbered field, a changed type or a
// removed field fails here; a deliberate change is recorded with -update.
func TestGolden(t *testing.T) {
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			got, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			path := goldenPath(c.name)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, encodeGolden(c.msg, got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			text, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			want, err := decodeGolden(text)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("encoding of %s changed: the wire format is pinned.\n got %x\nwant %x\n"+
					"If the change is deliberate and compatible, rerun with -update and say so in the commit.", c.name, got, want)
			}
			dec := c.msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(want, dec); err != nil {
				t.Fatalf("golden %s does not decode: %v", path, err)
			}
			if !proto.Equal(dec, c.msg) {
				t.Errorf("golden %s decodes to\n%v\nwant\n%v", path, dec, c.msg)
			}
			if u := dec.ProtoReflect().GetUnknown(); len(u) != 0 {
				t.Errorf("golden %s has fields this code does not know: %x", path, u)
			}
		})
	}
}

// Every message in wire.proto has a golden case, every field is set in at
// least one of them (zero values are not encoded, so an unset field would
// pin nothing), and every golden file belongs to a case.
func TestGoldenCoversWireProto(t *testing.T) {
	set := map[protoreflect.FullName]map[protoreflect.Name]bool{}
	files := map[string]bool{}
	for _, c := range goldenCases() {
		files[goldenPath(c.name)] = true
		m := c.msg.ProtoReflect()
		name := m.Descriptor().FullName()
		if set[name] == nil {
			set[name] = map[protoreflect.Name]bool{}
		}
		m.Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
			set[name][fd.Name()] = true
			return true
		})
	}
	msgs := wirepb.File_wire_proto.Messages()
	for i := range msgs.Len() {
		md := msgs.Get(i)
		fields, ok := set[md.FullName()]
		if !ok {
			t.Errorf("no golden case for %s", md.FullName())
			continue
		}
		for j := range md.Fields().Len() {
			if fd := md.Fields().Get(j); !fields[fd.Name()] {
				t.Errorf("no golden case sets %s.%s", md.FullName(), fd.Name())
			}
		}
	}
	if len(set) != msgs.Len() {
		t.Errorf("%d message types in the golden cases, %d in wire.proto", len(set), msgs.Len())
	}
	onDisk, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range onDisk {
		if !files[p] {
			t.Errorf("%s belongs to no golden case: delete it or add the case", p)
		}
	}
}
