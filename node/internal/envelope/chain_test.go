package envelope

import (
	"errors"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"google.golang.org/protobuf/proto"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// chainAuthor signs messages as one author, each naming the last as prev.
type chainAuthor struct {
	key    crypto.PrivKey
	pub    []byte
	g      store.GroupID
	seq    uint64
	prev   []byte
	bodies map[string]bool // every Message this author signed
}

func newChainAuthor(t testing.TB, g store.GroupID) *chainAuthor {
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := crypto.MarshalPublicKey(key.GetPublic())
	return &chainAuthor{key: key, pub: pub, g: g, bodies: map[string]bool{}}
}

// next signs the author's next message and returns its SignedMessage bytes.
func (a *chainAuthor) next(t testing.TB) []byte {
	a.seq++
	m := text(a.g, a.pub, a.seq, a.seq)
	m.Prev = a.prev
	v, err := SignMessage(a.key, m)
	if err != nil {
		t.Fatal(err)
	}
	a.prev = v.ID[:]
	sm, _, _ := UnmarshalSigned(v.Raw)
	a.bodies[string(sm.Message)] = true
	return v.Raw
}

// garble returns raw with a signature that checks for nothing.
func garble(t testing.TB, raw []byte) []byte {
	sm, _, err := UnmarshalSigned(raw)
	if err != nil {
		t.Fatal(err)
	}
	sm.Signature = make([]byte, 64)
	sm.Signature[0] = 7
	b, _ := proto.Marshal(sm)
	return b
}

// resign rewrites raw's message with edit and signs it with key (which may
// not be the author's).
func resign(t testing.TB, raw []byte, key crypto.PrivKey, edit func(*wirepb.Message)) []byte {
	_, m, err := UnmarshalSigned(raw)
	if err != nil {
		t.Fatal(err)
	}
	edit(m)
	v, err := SignMessage(key, m)
	if err != nil {
		t.Fatal(err)
	}
	return v.Raw
}

func accepted(errs []error) (ok []int) {
	for i, err := range errs {
		if err == nil {
			ok = append(ok, i)
		}
	}
	return ok
}

// An honest page of two authors' runs: every message accepted with one
// signature check per author, even those whose own signature is junk (the
// chain vouches for their bytes).
func TestChainOneCheckPerAuthor(t *testing.T) {
	var g store.GroupID
	a, b := newChainAuthor(t, g), newChainAuthor(t, g)
	var raws [][]byte
	for i := range 40 {
		raws = append(raws, a.next(t), b.next(t))
		if i == 3 {
			raws[len(raws)-1] = garble(t, raws[len(raws)-1])
		}
	}
	out, errs, checked := NewVerifier().many(g, raws)
	if n := len(accepted(errs)); n != len(raws) {
		t.Fatalf("accepted %d of %d: %v", n, len(raws), errs)
	}
	if checked != 2 {
		t.Fatalf("%d signatures checked, want 2 (one per author)", checked)
	}
	if out[7].Msg.Seq != 4 {
		t.Fatalf("message 7 is seq %d", out[7].Msg.Seq)
	}
}

// A member's forgery in another's name, vouched for by a chain: refused.
// mallory makes x "by alice" (her own signature on it), then y by herself
// naming x as prev (seq x+1, validly signed), and y2 "by alice" naming x.
func TestChainNeverVouchesAcrossAuthors(t *testing.T) {
	var g store.GroupID
	alice, mallory := newChainAuthor(t, g), newChainAuthor(t, g)
	honest := alice.next(t)
	x := resign(t, honest, mallory.key, func(m *wirepb.Message) {
		m.Seq, m.Prev = 2, append([]byte(nil), alice.prev...)
		m.Body = &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "alice says: send money"}}}
	})
	xs, _, _ := UnmarshalSigned(x)
	xid := MessageID(xs.Message)
	mallory.seq, mallory.prev = 2, xid[:]
	y := mallory.next(t) // seq 3, prev x, author mallory: validly signed
	y2 := resign(t, y, mallory.key, func(m *wirepb.Message) { m.Author = alice.pub })
	for _, page := range [][][]byte{{honest, x, y}, {x, y2}, {honest, x, y, y2}, {x, garble(t, x), y2, y}} {
		out, errs := VerifyMany(g, page)
		for i, raw := range page {
			if string(raw) == string(y) || string(raw) == string(honest) {
				if errs[i] != nil {
					t.Fatalf("honest message %d refused: %v", i, errs[i])
				}
				continue
			}
			if errs[i] == nil {
				t.Fatalf("forgery %d accepted as %s seq %d", i, out[i].Author, out[i].Msg.Seq)
			}
			if !errors.Is(errs[i], ErrBadSignature) {
				t.Fatalf("forgery %d: %v, want bad signature", i, errs[i])
			}
		}
	}
}

// A chain with a tampered middle: the tampered message is refused, and so
// is everything below it that could stand only on it (junk signatures
// here); the messages above it stand on the newest's signature. With an
// honest signature below the break, the chain resumes there.
func TestChainTamperedMiddle(t *testing.T) {
	var g store.GroupID
	a := newChainAuthor(t, g)
	var raws [][]byte
	for range 6 {
		raws = append(raws, a.next(t))
	}
	// seq 4 with its text changed, keeping its prev and signature.
	sm, m, _ := UnmarshalSigned(raws[3])
	m.Body = &wirepb.Body{Kind: &wirepb.Body_Text{Text: &wirepb.Text{Text: "tampered"}}}
	sm.Message, _ = MarshalMessage(m)
	tampered, _ := proto.Marshal(sm)
	for _, c := range []struct {
		page    [][]byte
		ok      []bool
		checked int
	}{
		// 6 checked; 5 on it; 4 tampered, checked alone; 3, 2, 1 alone.
		{[][]byte{garble(t, raws[0]), garble(t, raws[1]), garble(t, raws[2]), tampered, garble(t, raws[4]), raws[5]},
			[]bool{false, false, false, false, true, true}, 5},
		// 3's own signature is good: 2 and 1 stand on it again.
		{[][]byte{garble(t, raws[0]), garble(t, raws[1]), raws[2], tampered, garble(t, raws[4]), raws[5]},
			[]bool{true, true, true, false, true, true}, 3},
	} {
		_, errs, checked := NewVerifier().many(g, c.page)
		for i := range c.page {
			if (errs[i] == nil) != c.ok[i] || (errs[i] != nil && !errors.Is(errs[i], ErrBadSignature)) {
				t.Fatalf("seq %d: %v, want accepted=%v", i+1, errs[i], c.ok[i])
			}
		}
		if checked != c.checked {
			t.Fatalf("%d signatures checked, want %d", checked, c.checked)
		}
	}
}

// Old messages without prev, a prev at the wrong seq, and a prev naming a
// message of the page that is not the seq before: each checked alone.
func TestChainNeedsExactPrev(t *testing.T) {
	var g store.GroupID
	a := newChainAuthor(t, g)
	first := a.next(t)
	second := a.next(t)
	skip := resign(t, second, a.key, func(m *wirepb.Message) { m.Seq = 3 }) // prev names seq 1 from seq 3
	_, errs, checked := NewVerifier().many(g, [][]byte{garble(t, first), skip})
	if errs[0] == nil || errs[1] != nil || checked != 2 {
		t.Fatalf("errs %v, %d checked: seq 1 must not stand on a seq-3 prev", errs, checked)
	}
	if _, m, _ := UnmarshalSigned(first); len(m.Prev) != 0 {
		t.Fatal("seq 1 carries a prev")
	}
	bad := resign(t, first, a.key, func(m *wirepb.Message) { m.Prev = make([]byte, 32) }) // prev at seq 1
	if _, err := VerifySigned(g, bad); !errors.Is(err, ErrBadField) {
		t.Fatalf("prev at seq 1: %v", err)
	}
	short := resign(t, second, a.key, func(m *wirepb.Message) { m.Prev = m.Prev[:31] })
	if _, err := VerifySigned(g, short); !errors.Is(err, ErrBadField) {
		t.Fatalf("short prev: %v", err)
	}
}

// FuzzVerifyManyChains: pages drawn from two honest chains, their junk-
// signed copies, a member's forgeries in the other's name, and arbitrary
// bytes. Whatever VerifyMany accepts verifies alone or is, byte for byte,
// a message its claimed author signed.
func FuzzVerifyManyChains(f *testing.F) {
	var g store.GroupID
	a, m := newChainAuthor(f, g), newChainAuthor(f, g)
	var pool [][]byte
	for range 4 {
		ra, rm := a.next(f), m.next(f)
		pool = append(pool, ra, rm, garble(f, ra))
	}
	// mallory's forgeries "by a", and her own message vouching for one.
	forged := resign(f, pool[3], m.key, func(w *wirepb.Message) { w.Author = a.pub; w.Seq = a.seq + 1; w.Prev = a.prev })
	fs, _, _ := UnmarshalSigned(forged)
	fid := MessageID(fs.Message)
	pool = append(pool, forged, garble(f, forged))
	m.seq, m.prev = a.seq+1, fid[:]
	pool = append(pool, m.next(f))
	pool = append(pool, resign(f, pool[len(pool)-1], m.key, func(w *wirepb.Message) { w.Author = a.pub }))
	signedBy := map[string]map[string]bool{string(a.pub): a.bodies, string(m.pub): m.bodies}

	f.Add([]byte{0, 3, 6, 9}, []byte{})
	f.Add([]byte{12, 13, 14, 15, 2, 5}, pool[0])
	f.Add([]byte{15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, []byte("junk"))
	f.Fuzz(func(t *testing.T, pick, extra []byte) {
		if len(pick) > 64 {
			pick = pick[:64]
		}
		page := [][]byte{extra}
		for _, p := range pick {
			page = append(page, pool[int(p)%len(pool)])
		}
		out, errs := VerifyMany(g, page)
		for i, raw := range page {
			if errs[i] != nil {
				continue
			}
			if _, err := VerifySigned(g, raw); err == nil {
				continue
			}
			sm, msg, err := UnmarshalSigned(raw)
			if err != nil || !signedBy[string(msg.Author)][string(sm.Message)] {
				t.Fatalf("message %d accepted as %s seq %d, but its author never signed it", i, out[i].Author, out[i].Msg.Seq)
			}
		}
	})
}

// FuzzPeekSigned: wherever UnmarshalSigned decodes, PeekSigned reads the
// same author, seq and timestamp.
func FuzzPeekSigned(f *testing.F) {
	var g store.GroupID
	a := newChainAuthor(f, g)
	f.Add(a.next(f))
	f.Add(garble(f, a.next(f)))
	f.Add([]byte{0x0a, 0x02, 0x20, 0x05, 0x0a, 0x02, 0x20, 0x07})
	f.Add([]byte{0x0a, 0x04, 0x1a, 0x01, 0x61, 0x18, 0x0a, 0x02, 0x1a, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, ok := PeekSigned(raw)
		sm, m, err := UnmarshalSigned(raw)
		if err != nil || sm.Message == nil {
			return
		}
		if !ok || string(p.Author) != string(m.Author) || p.Seq != m.Seq || p.TimestampMs != m.TimestampMs {
			t.Fatalf("peek %v %x/%d/%d, decode %x/%d/%d", ok, p.Author, p.Seq, p.TimestampMs, m.Author, m.Seq, m.TimestampMs)
		}
	})
}
