package envelope

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

func boundsMsg(id byte, lamport uint64, ts int64, parents ...store.MessageID) *Verified {
	m := &wirepb.Message{Seq: uint64(id), Lamport: lamport, TimestampMs: ts}
	for _, p := range parents {
		m.Parents = append(m.Parents, append([]byte(nil), p[:]...))
	}
	return &Verified{ID: store.MessageID{id}, Author: "author", Msg: m}
}

const nowMs = 1_800_000_000_000

func held(lams map[store.MessageID]uint64) LamportOf {
	return func(id store.MessageID) (uint64, bool, error) {
		l, ok := lams[id]
		return l, ok, nil
	}
}

func TestCheckBounds(t *testing.T) {
	p := store.MessageID{0xaa}
	lookup := held(map[store.MessageID]uint64{p: 10})
	for _, tc := range []struct {
		name string
		m    *Verified
		want error
	}{
		{"honest", boundsMsg(1, 11, nowMs, p), nil},
		{"at the step over a held parent", boundsMsg(1, 10+LamportStep, nowMs, p), nil},
		{"past the step over a held parent", boundsMsg(1, 11+LamportStep, nowMs, p), ErrLamportJump},
		{"past the step, parent missing", boundsMsg(1, 11+LamportStep, nowMs, store.MessageID{0xbb}), ErrLamportAhead},
		{"past the step, no parent", boundsMsg(1, 11+LamportStep, nowMs), ErrLamportAhead},
		{"clock not above a parent", boundsMsg(1, 10, nowMs, p), ErrCausality},
		{"year 10000", boundsMsg(1, 11, time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli(), p), ErrBadTimestamp},
		{"1999", boundsMsg(1, 11, MinTimestampMs-1, p), ErrBadTimestamp},
		{"3 days ahead", boundsMsg(1, 11, nowMs+3*24*3600*1000, p), nil},
		{"a year and two days ahead", boundsMsg(1, 11, nowMs+MaxAheadMs+1, p), ErrBadTimestamp},
	} {
		c := CheckBounds([]*Verified{tc.m}, View{Lamport: lookup, Known: 5, NowMs: nowMs})
		var got error
		if len(c.Refused) == 1 {
			got = c.Refused[0].Err
		}
		if !errors.Is(got, tc.want) || (tc.want == nil && len(c.Kept) != 1) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	// A receiver whose clock reset to 1970 still accepts today's messages.
	if c := CheckBounds([]*Verified{boundsMsg(1, 11, ClockFloorMs+time.Hour.Milliseconds(), p)}, View{Lamport: lookup, NowMs: 0}); len(c.Kept) != 1 {
		t.Fatal("a receiver with a reset clock refused a current message")
	}
	// Two messages of one author and seq in one batch: the second refused.
	a, b := boundsMsg(1, 11, nowMs, p), boundsMsg(1, 12, nowMs, p)
	b.ID = store.MessageID{2}
	if c := CheckBounds([]*Verified{a, b}, View{Lamport: lookup, NowMs: nowMs}); len(c.Kept) != 1 || !errors.Is(c.Misbehaviour(), ErrEquivocation) {
		t.Fatalf("equivocation in one batch: kept %d, %v", len(c.Kept), c.Misbehaviour())
	}
	// The receiver's view moves with the batch: a chain climbing the step
	// each time stays acceptable, as honest clocks do.
	chain := []*Verified{boundsMsg(1, 11, nowMs, p)}
	for i := 2; i < 5; i++ {
		prev := chain[len(chain)-1]
		chain = append(chain, boundsMsg(byte(i), prev.Msg.Lamport+LamportStep, nowMs, prev.ID))
	}
	if c := CheckBounds(chain, View{Lamport: lookup, NowMs: nowMs}); len(c.Kept) != 4 {
		t.Fatalf("chain: kept %d", len(c.Kept))
	}
}

// FuzzCheckBounds: whatever the clocks and times, what is kept satisfies
// the rules, and a lamport-jump refusal names only held parents.
func FuzzCheckBounds(f *testing.F) {
	f.Add(uint64(11), uint64(10), uint64(5), int64(nowMs), int64(nowMs), true)
	f.Add(uint64(1<<62), uint64(10), uint64(5), int64(nowMs), int64(nowMs), true)
	f.Add(uint64(1<<62), uint64(10), uint64(5), int64(253402300800000), int64(0), false)
	f.Fuzz(func(t *testing.T, lamport, parent, known uint64, ts, now int64, isHeld bool) {
		p := store.MessageID{0xaa}
		lams := map[store.MessageID]uint64{}
		if isHeld {
			lams[p] = parent
		}
		m := boundsMsg(1, lamport, ts, p)
		c := CheckBounds([]*Verified{m}, View{Lamport: held(lams), Known: known, NowMs: now})
		if len(c.Kept)+len(c.Refused) != 1 {
			t.Fatal("a message neither kept nor refused")
		}
		if len(c.Kept) == 1 {
			if !TimestampOK(ts, now) {
				t.Fatal("kept a bad timestamp")
			}
			if isHeld && lamport <= parent {
				t.Fatal("kept a clock not above its parent's")
			}
			base := known
			if isHeld {
				base = max(base, parent)
			}
			if lamport > base && lamport-base > LamportStep {
				t.Fatal("kept a clock past the step")
			}
			if time.UnixMilli(ts).Year() > 9999 {
				t.Fatal("kept a time JSON cannot encode")
			}
		}
		if len(c.Refused) == 1 && errors.Is(c.Refused[0].Err, ErrLamportJump) && !isHeld {
			t.Fatal("lamport-jump without a held parent: should be deferred")
		}
	})
}
