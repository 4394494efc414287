package syncproto

import (
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// A group's per-author sequence state: equivocations refused at commit,
// and the seq holes and wanted ids that pulls could not fill (docs/sync.md,
// "Sequence gaps and equivocation").

// ErrSeqGap counts an author's seq hole given up as unfillable.
var ErrSeqGap = errors.New("seq-gap")

// SeqStore is what the equivocation check reads and records.
type SeqStore interface {
	GroupStats(g store.GroupID) (store.Stats, error)
	AtSeq(g store.GroupID, author []byte, seq uint64) (store.MessageID, bool, error)
	PutEquivocation(g store.GroupID, e store.Equivocation) error
}

// Bounds on the in-memory state one group keeps.
const (
	holeStrikes  = 2       // complete pulls a hole or a want survives before it is given up
	maxSkipped   = 100_000 // seqs given up, per group
	maxSuppress  = 65_536  // wanted ids given up, per group
	maxRefusedID = 65_536  // equivocating ids remembered, per group
	// retryGivenUp is how long seqs and ids given up stay given up. The
	// peers asked so far lacked them, but a peer met later (a partition
	// healing, a member back online) may hold them: after this the next
	// pulls ask again, so a give-up bounds the resend loop to one round per
	// interval instead of losing those messages until a restart.
	retryGivenUp = 2 * time.Minute
)

type seqKey struct {
	author peer.ID
	seq    uint64
}

type holeState struct {
	have    uint64 // the prefix when the hole was first seen
	strikes int
}

// guard is a Group's sequence state; the zero value is ready.
type guard struct {
	mu      sync.Mutex
	pending map[seqKey]store.MessageID // being committed now
	refused map[store.MessageID]bool   // equivocations: never wanted again
	holes   map[string]*holeState      // author -> a hole at have+1 seen by pulls
	skipped map[string]map[uint64]bool // author -> seqs given up
	nSkip   int
	wants   map[store.MessageID]int // wanted id -> complete pulls that did not bring it
	gaveUp  map[store.MessageID]bool
	since   time.Time // when the oldest give-up still in skipped/gaveUp was made
}

// expireLocked forgets every give-up once retryGivenUp has passed since the
// oldest one. Callers hold mu.
func (gd *guard) expireLocked(now time.Time) {
	if gd.since.IsZero() || now.Sub(gd.since) < retryGivenUp {
		return
	}
	gd.skipped, gd.nSkip, gd.gaveUp, gd.since = nil, 0, nil, time.Time{}
}

// noteGiveUpLocked starts the retry clock at the first give-up. Callers hold mu.
func (gd *guard) noteGiveUpLocked(now time.Time) {
	if gd.since.IsZero() {
		gd.since = now
	}
}

// View is the receiver's state for envelope.CheckBounds: st's clocks and
// held seqs, and the messages being committed now.
func (g *Group) View(st SeqStore, lamport envelope.LamportOf, nowMs int64) envelope.View {
	v := envelope.View{Lamport: lamport, NowMs: nowMs}
	if stats, err := st.GroupStats(g.ID); err == nil {
		v.Known = stats.MaxLamport
	}
	v.Conflict = func(m *envelope.Verified) (bool, error) {
		g.guard.mu.Lock()
		held, ok := g.guard.pending[seqKey{m.Author, m.Msg.Seq}]
		g.guard.mu.Unlock()
		if !ok {
			var err error
			if held, ok, err = st.AtSeq(g.ID, []byte(m.Author), m.Msg.Seq); err != nil {
				return false, err
			}
		}
		if !ok || held == m.ID {
			return false, nil
		}
		g.evidence(st, m, held)
		return true, nil
	}
	return v
}

// Admit keeps from vs the messages whose author has no other message at
// their seq, held or being committed; the first stored wins. Each refused
// one is recorded as evidence in st and counted with count. release must be
// called once the kept messages are stored (or failed to be).
func (g *Group) Admit(st SeqStore, vs []*envelope.Verified, count func(error)) (kept []*envelope.Verified, release func()) {
	gd := &g.guard
	var mine []seqKey
	release = func() {
		gd.mu.Lock()
		for _, k := range mine {
			delete(gd.pending, k)
		}
		gd.mu.Unlock()
	}
	kept = vs[:0:0]
	for _, v := range vs {
		k := seqKey{v.Author, v.Msg.Seq}
		gd.mu.Lock()
		other, busy := gd.pending[k]
		if !busy {
			if gd.pending == nil {
				gd.pending = map[seqKey]store.MessageID{}
			}
			gd.pending[k] = v.ID
		}
		gd.mu.Unlock()
		if busy {
			if other != v.ID {
				g.refuse(st, v, other, count)
			}
			continue // the same message twice: the store dedups it anyway
		}
		mine = append(mine, k)
		held, ok, err := st.AtSeq(g.ID, []byte(v.Author), v.Msg.Seq)
		if err == nil && ok && held != v.ID {
			g.refuse(st, v, held, count)
			continue
		}
		kept = append(kept, v)
	}
	return kept, release
}

func (g *Group) refuse(st SeqStore, v *envelope.Verified, first store.MessageID, count func(error)) {
	count(envelope.ErrEquivocation)
	g.evidence(st, v, first)
}

// evidence remembers v's id as refused and records the pair in st.
func (g *Group) evidence(st SeqStore, v *envelope.Verified, first store.MessageID) {
	g.guard.mu.Lock()
	if g.guard.refused == nil {
		g.guard.refused = map[store.MessageID]bool{}
	}
	if len(g.guard.refused) < maxRefusedID {
		g.guard.refused[v.ID] = true
	}
	g.guard.mu.Unlock()
	// Evidence for a later look (who signed what); failing to record it
	// changes nothing else.
	_ = st.PutEquivocation(g.ID, store.Equivocation{Author: []byte(v.Author), Seq: v.Msg.Seq, First: first, Second: v.Raw})
}

// Refused reports whether id was refused as an equivocation.
func (g *Group) Refused(id store.MessageID) bool {
	g.guard.mu.Lock()
	defer g.guard.mu.Unlock()
	return g.guard.refused[id]
}

// haveFor is the have entry a pull sends for an author: its contiguous
// prefix, carried past seqs given up as unfillable (and any held seqs
// after them), so peers do not resend what lies beyond a hole forever.
func (g *Group) haveFor(st Store, r store.AuthorRange) uint64 {
	g.guard.mu.Lock()
	g.guard.expireLocked(time.Now())
	skipped := g.guard.skipped[string(r.Author)]
	n := len(skipped)
	g.guard.mu.Unlock()
	if n == 0 || r.Have >= r.Max {
		return r.Have
	}
	next := r.Have
	g.guard.mu.Lock()
	isSkipped := func(s uint64) bool { return skipped[s] }
	skip := func() {
		for next < r.Max && isSkipped(next+1) {
			next++
		}
	}
	skip()
	g.guard.mu.Unlock()
	_ = st.AuthorAfter(g.ID, r.Author, next, func(e store.AuthorIndexEntry) bool {
		if e.Seq <= next {
			return true // a second message at one seq (a store from before the check)
		}
		if e.Seq != next+1 {
			return false
		}
		next = e.Seq
		g.guard.mu.Lock()
		skip()
		g.guard.mu.Unlock()
		return next < r.Max
	})
	return next
}

// wanted filters the ids a pull asks for: not refused equivocations, not
// ids given up after holeStrikes complete pulls.
func (g *Group) wanted(ids []store.MessageID) []store.MessageID {
	g.guard.mu.Lock()
	defer g.guard.mu.Unlock()
	g.guard.expireLocked(time.Now())
	out := ids[:0:0]
	for _, id := range ids {
		if !g.guard.refused[id] && !g.guard.gaveUp[id] {
			out = append(out, id)
		}
	}
	return out
}

// afterPull is told, after a pull that ended with the responder's "done",
// the ranges and wants before it and the ranges after it. A hole (an author
// prefix that did not move although later seqs are held) or a wanted id
// that survives holeStrikes such pulls is given up: the responder served
// everything it holds past our prefix, so none of them had it. Each seq
// given up is counted with count (ErrSeqGap).
func (g *Group) afterPull(st Store, before []store.AuthorRange, after []store.AuthorRange, wants []store.MessageID, stillMissing func(store.MessageID) bool, count func(error)) {
	prev := make(map[string]uint64, len(before))
	for _, r := range before {
		prev[string(r.Author)] = r.Have
	}
	gd := &g.guard
	for _, r := range after {
		a := string(r.Author)
		gd.mu.Lock()
		h := gd.holes[a]
		if r.Have >= r.Max || prev[a] != r.Have {
			delete(gd.holes, a)
			gd.mu.Unlock()
			continue
		}
		if h == nil || h.have != r.Have {
			if gd.holes == nil {
				gd.holes = map[string]*holeState{}
			}
			gd.holes[a] = &holeState{have: r.Have, strikes: 1}
			gd.mu.Unlock()
			continue
		}
		h.strikes++
		give := h.strikes >= holeStrikes
		if give {
			delete(gd.holes, a)
		}
		gd.mu.Unlock()
		if give {
			g.giveUpHoles(st, r, count)
		}
	}
	gd.mu.Lock()
	defer gd.mu.Unlock()
	for _, id := range wants {
		if !stillMissing(id) {
			delete(gd.wants, id)
			continue
		}
		if gd.wants == nil {
			gd.wants = map[store.MessageID]int{}
		}
		gd.wants[id]++
		if gd.wants[id] >= holeStrikes && len(gd.gaveUp) < maxSuppress {
			if gd.gaveUp == nil {
				gd.gaveUp = map[store.MessageID]bool{}
			}
			gd.gaveUp[id] = true
			gd.noteGiveUpLocked(time.Now())
			delete(gd.wants, id)
		}
	}
}

// giveUpHoles marks every seq in (Have, Max] that r's author lacks as given up.
func (g *Group) giveUpHoles(st Store, r store.AuthorRange, count func(error)) {
	var holes []uint64
	next := r.Have
	_ = st.AuthorAfter(g.ID, r.Author, r.Have, func(e store.AuthorIndexEntry) bool {
		for s := next + 1; s < e.Seq && len(holes) < maxSkipped; s++ {
			holes = append(holes, s)
		}
		next = max(next, e.Seq)
		return len(holes) < maxSkipped
	})
	gd := &g.guard
	gd.mu.Lock()
	defer gd.mu.Unlock()
	a := string(r.Author)
	if gd.skipped == nil {
		gd.skipped = map[string]map[uint64]bool{}
	}
	if gd.skipped[a] == nil {
		gd.skipped[a] = map[uint64]bool{}
	}
	for _, s := range holes {
		if gd.nSkip >= maxSkipped {
			return
		}
		if !gd.skipped[a][s] {
			gd.skipped[a][s] = true
			gd.noteGiveUpLocked(time.Now())
			gd.nSkip++
			count(ErrSeqGap)
		}
	}
}

// JoinFloor is the default Group.MinSince for a history-from-join group:
// a requester is served from the time of its Join message as this store
// holds it. A requester whose Join we do not hold is served from our own
// join (ownJoinedMs), which is all we hold: it is either a member older
// than us (entitled to it) or one whose Join has not reached us. The Join's
// time is the joiner's own claim, and a client that withholds its Join is
// served from our join: the membership log (who added whom, when) is the
// better source, wired through MinSince and Allow.
func JoinFloor(st Store, g store.GroupID, ownJoinedMs int64) func(peer.ID) int64 {
	return func(p peer.ID) int64 {
		floor := ownJoinedMs
		_ = st.AuthorAfter(g, []byte(p), 0, func(e store.AuthorIndexEntry) bool {
			m, err := st.GetAt(g, e.Lamport, e.ID)
			if err != nil {
				return false
			}
			if v, err := envelope.DecodeSigned(m.Raw); err == nil {
				if _, ok := v.Msg.Body.GetKind().(*wirepb.Body_Join); ok {
					floor = e.TimeMs
					return false
				}
			}
			return e.Seq < 16 // a Join is an author's first message
		})
		return floor
	}
}
