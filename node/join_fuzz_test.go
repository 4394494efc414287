package node

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
)

// FuzzJoinRequest: the admitter's decoder of what a joiner sends never
// panics, and accepts only requests with every field in bounds.
func FuzzJoinRequest(f *testing.F) {
	owner, err := membership.NewIdentity()
	if err != nil {
		f.Fatal(err)
	}
	joiner, _ := membership.NewIdentity()
	l, _, err := membership.Create(owner, "owner", "group", time.UnixMilli(1000))
	if err != nil {
		f.Fatal(err)
	}
	_, secret, err := l.CreateInvite(owner, time.UnixMilli(1_000_000), 1, time.UnixMilli(1000))
	if err != nil {
		f.Fatal(err)
	}
	ch := membership.NewChallenge()
	jr, err := membership.ProveInvite(secret, l.Group(), joiner.Key(), membership.HPKEPublic(joiner.HPKE), "joiner", ch)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := proto.Marshal(&wirepb.JoinRequest{Version: joinVersion, Group: jr.Group[:], InviteId: jr.InviteID[:], Key: jr.Key[:],
		HpkeKey: jr.HPKEKey, Name: jr.Name, Challenge: jr.Challenge, Proof: jr.Proof})
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01, 0x12, 0x20})
	f.Fuzz(func(t *testing.T, b []byte) {
		var req wirepb.JoinRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		d, err := decodeJoinRequest(&req)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("refused with %v", err)
			}
			return
		}
		if len(d.HPKEKey) == 0 || len(d.HPKEKey) > 256 || len(d.Name) > MaxNameLen || len(d.Challenge) > maxJoinChallenge || len(d.Proof) > 256 {
			t.Fatalf("accepted out-of-bounds request %+v", d)
		}
		// Whatever was decoded, the log's check refuses it unless it is the
		// real proof over this challenge.
		if err := l.State().CheckInvite(d, ch, time.UnixMilli(2000)); err == nil && !bytes.Equal(b, good) && !bytes.Equal(d.Proof, jr.Proof) {
			t.Fatalf("a forged request passed CheckInvite")
		}
	})
}

// FuzzJoinReply: the joiner's check of the admitter's reply never panics
// and yields a log only of the invite's group with the joiner admitted.
func FuzzJoinReply(f *testing.F) {
	owner, _ := membership.NewIdentity()
	joiner, _ := membership.NewIdentity()
	l, _, err := membership.Create(owner, "owner", "group", time.UnixMilli(1000))
	if err != nil {
		f.Fatal(err)
	}
	if _, err := l.AddMember(owner, joiner.Key(), membership.HPKEPublic(joiner.HPKE), "joiner", time.UnixMilli(2000)); err != nil {
		f.Fatal(err)
	}
	rep := &wirepb.JoinReply{Version: joinVersion, Ok: true, GroupSecret: bytes.Repeat([]byte{1}, SecretLen), GroupName: "group"}
	for _, o := range l.Ops() {
		rep.Ops = append(rep.Ops, o.Encode())
	}
	good, _ := proto.Marshal(rep)
	f.Add(good)
	refused, _ := proto.Marshal(&wirepb.JoinReply{Version: joinVersion, Code: joinCodeExpired, Error: "expired"})
	f.Add(refused)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var r wirepb.JoinReply
		if proto.Unmarshal(b, &r) != nil {
			return
		}
		got, err := checkJoinReply(&r, l.Group(), joiner.Key())
		if err != nil {
			if got != nil {
				t.Fatal("refused but returned a log")
			}
			return
		}
		if got.Group() != l.Group() {
			t.Fatal("accepted another group's log")
		}
		if _, ok := got.State().Member(joiner.Key()); !ok {
			t.Fatal("accepted a log that does not admit the joiner")
		}
		if len(r.GroupSecret) != SecretLen {
			t.Fatal("accepted a bad group secret")
		}
	})
}

// FuzzJoinChallenge: the challenge a joiner reads is bounded.
func FuzzJoinChallenge(f *testing.F) {
	good, _ := proto.Marshal(&wirepb.JoinChallenge{Version: joinVersion, Challenge: membership.NewChallenge()})
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		var ch wirepb.JoinChallenge
		if proto.Unmarshal(b, &ch) != nil {
			return
		}
		if err := checkJoinChallenge(&ch); err == nil && (len(ch.Challenge) == 0 || len(ch.Challenge) > maxJoinChallenge) {
			t.Fatalf("accepted challenge of %d bytes", len(ch.Challenge))
		}
	})
}
