package membership

import (
	"testing"
	"time"
)

// FuzzDecodeOp: DecodeOp never panics, and what it accepts re-encodes to an
// op with the same id.
func FuzzDecodeOp(f *testing.F) {
	owner, alice := newID(f), newID(f)
	l := group(f, owner, alice)
	_, _, _ = l.CreateInvite(owner, t0.Add(time.Hour), 3, t0)
	_, _, _ = l.RemoveMember(owner, alice.Key(), t0)
	for _, o := range l.Ops() {
		f.Add(o.Encode())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeOp(b)
		if err != nil {
			return
		}
		d, err := DecodeOp(o.Encode())
		if err != nil || d.ID() != o.ID() {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

// FuzzParseInviteToken: never panics; accepted tokens round-trip.
func FuzzParseInviteToken(f *testing.F) {
	f.Add(InviteToken{Group: OpID{1}, Secret: NewInviteSecret()}.Bytes())
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := ParseInviteToken(b)
		if err != nil {
			return
		}
		if string(tok.Bytes()) != string(b) {
			t.Fatal("round trip")
		}
	})
}

// FuzzRecvChain: any sequence of indexes keeps the receiver within bounds
// and never yields a key twice.
func FuzzRecvChain(f *testing.F) {
	f.Add([]byte{0, 1, 5, 3, 3, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		c := NewRecvChain(make([]byte, SecretLen), OpID{}, Key{})
		got := map[MessageKey]bool{}
		for i := 0; i+1 < len(b); i += 2 {
			idx := uint32(b[i])<<4 | uint32(b[i+1])
			k, err := c.Take(idx)
			if err != nil {
				continue
			}
			if got[k] {
				t.Fatal("key returned twice")
			}
			got[k] = true
			if len(c.Skipped) > MaxSkip {
				t.Fatal("skip window exceeded")
			}
		}
	})
}
