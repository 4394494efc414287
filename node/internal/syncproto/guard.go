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
	holeStrikes    = 2       // complete pulls from one peer a hole or a want survives before it is given up with that peer
	maxSkipped     = 100_000 // seqs given up, per group (all peers together)
	maxSuppress    = 65_536  // wanted ids given up, per group (all peers together)
	maxRefusedID   = 65_536  // equivocating ids remembered, per group
	maxGiveUpPeers = 256     // peers with give-ups tracked, per group; past it a peer's pulls just resend
	// firstRetry and retryGivenUp bound how long a peer's give-ups stay
	// given up: firstRetry after the first round, doubling with every round
	// that expires unfilled, up to retryGivenUp. That peer lacked those
	// messages when asked, but may get them a moment later (from another
	// peer, in a partition healing), so a give-up bounds the resend loop to
	// one round per interval instead of hiding those messages for long.
	firstRetry   = 10 * time.Second
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

// giveUps is what complete pulls from one peer could not bring. They are
// skipped only in requests to that peer: a peer that lacks a message says
// nothing of the others, and two members that both missed it (a joiner and
// the member it joined through) would otherwise strike it out for each
// other before either asked a peer that holds it.
type giveUps struct {
	holes   map[string]*holeState      // author -> a hole at have+1 seen by pulls from this peer
	skipped map[string]map[uint64]bool // author -> seqs given up with this peer
	nSkip   int
	wants   map[store.MessageID]int // wanted id -> complete pulls from this peer that did not bring it
	gaveUp  map[store.MessageID]bool
	since   time.Time // when the oldest give-up still held was made
	rounds  int       // rounds of give-ups that expired: the next one lasts longer
}

func (u *giveUps) retryAfter() time.Duration {
	return min(firstRetry<<min(u.rounds, 8), retryGivenUp)
}

// guard is a Group's sequence state; the zero value is ready.
type guard struct {
	mu      sync.Mutex
	pending map[seqKey]store.MessageID // being committed now
	refused map[store.MessageID]bool   // equivocations: never wanted again
	peers   map[peer.ID]*giveUps       // per peer pulled from, while it has holes or give-ups
	nSkip   int                        // seqs given up, all peers together
	nGaveUp int                        // ids given up, all peers together
}

// peerLocked returns p's give-up state, creating it unless the group
// already tracks maxGiveUpPeers (nil then). Callers hold mu.
func (gd *guard) peerLocked(p peer.ID) *giveUps {
	if u := gd.peers[p]; u != nil {
		return u
	}
	if len(gd.peers) >= maxGiveUpPeers {
		return nil
	}
	if gd.peers == nil {
		gd.peers = map[peer.ID]*giveUps{}
	}
	u := &giveUps{}
	gd.peers[p] = u
	return u
}

// expireLocked forgets p's give-ups once their round has lasted
// retryAfter. Callers hold mu.
func (gd *guard) expireLocked(p peer.ID, now time.Time) {
	u := gd.peers[p]
	if u == nil || u.since.IsZero() || now.Sub(u.since) < u.retryAfter() {
		return
	}
	gd.nSkip -= u.nSkip
	gd.nGaveUp -= len(u.gaveUp)
	u.skipped, u.nSkip, u.gaveUp, u.since = nil, 0, nil, time.Time{}
	u.rounds++
}

// noteGiveUpLocked starts u's retry clock at its first give-up. Callers hold mu.
func (u *giveUps) noteGiveUpLocked(now time.Time) {
	if u.since.IsZero() {
		u.since = now
	}
}

// skippedElsewhereLocked reports whether another peer than p has seq of
// author given up (so it was counted already). Callers hold mu.
func (gd *guard) skippedElsewhereLocked(p peer.ID, author string, seq uint64) bool {
	for q, u := range gd.peers {
		if q != p && u.skipped[author][seq] {
			return true
		}
	}
	return false
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

// haveFor is the have entry a pull from p sends for an author: its
// contiguous prefix, carried past seqs given up with p as unfillable (and
// any held seqs after them), so p does not resend what lies beyond a hole
// forever.
func (g *Group) haveFor(st Store, p peer.ID, r store.AuthorRange) uint64 {
	g.guard.mu.Lock()
	g.guard.expireLocked(p, time.Now())
	var skipped map[uint64]bool
	if u := g.guard.peers[p]; u != nil {
		skipped = u.skipped[string(r.Author)]
	}
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

// wanted filters the ids a pull from p asks for: not refused
// equivocations, not ids given up with p after holeStrikes complete pulls.
func (g *Group) wanted(p peer.ID, ids []store.MessageID) []store.MessageID {
	g.guard.mu.Lock()
	defer g.guard.mu.Unlock()
	g.guard.expireLocked(p, time.Now())
	var gaveUp map[store.MessageID]bool
	if u := g.guard.peers[p]; u != nil {
		gaveUp = u.gaveUp
	}
	out := ids[:0:0]
	for _, id := range ids {
		if !g.guard.refused[id] && !gaveUp[id] {
			out = append(out, id)
		}
	}
	return out
}

// afterPull is told, after a pull from p that ended with p's "done", the
// ranges and wants before it and the ranges after it. A hole (an author
// prefix that did not move although later seqs are held) or a wanted id
// that survives holeStrikes such pulls from p is given up with p: p served
// everything it holds past our prefix, so it lacks them. Each seq given up
// is counted with count (ErrSeqGap), once while any peer has it given up.
func (g *Group) afterPull(st Store, p peer.ID, before []store.AuthorRange, after []store.AuthorRange, wants []store.MessageID, stillMissing func(store.MessageID) bool, count func(error)) {
	prev := make(map[string]uint64, len(before))
	for _, r := range before {
		prev[string(r.Author)] = r.Have
	}
	gd := &g.guard
	gd.mu.Lock()
	u := gd.peerLocked(p)
	gd.mu.Unlock()
	if u == nil {
		return // too many peers tracked: p's pulls resend, as before any give-up
	}
	clean := true
	for _, r := range after {
		a := string(r.Author)
		gd.mu.Lock()
		h := u.holes[a]
		if r.Have >= r.Max || prev[a] != r.Have {
			delete(u.holes, a)
			gd.mu.Unlock()
			continue
		}
		clean = false
		if h == nil || h.have != r.Have {
			if u.holes == nil {
				u.holes = map[string]*holeState{}
			}
			u.holes[a] = &holeState{have: r.Have, strikes: 1}
			gd.mu.Unlock()
			continue
		}
		h.strikes++
		give := h.strikes >= holeStrikes
		if give {
			delete(u.holes, a)
		}
		gd.mu.Unlock()
		if give {
			g.giveUpHoles(st, p, u, r, count)
		}
	}
	gd.mu.Lock()
	defer gd.mu.Unlock()
	for _, id := range wants {
		if !stillMissing(id) {
			delete(u.wants, id)
			continue
		}
		clean = false
		if u.wants == nil {
			u.wants = map[store.MessageID]int{}
		}
		u.wants[id]++
		if u.wants[id] >= holeStrikes && gd.nGaveUp < maxSuppress {
			if u.gaveUp == nil {
				u.gaveUp = map[store.MessageID]bool{}
			}
			u.gaveUp[id] = true
			gd.nGaveUp++
			u.noteGiveUpLocked(time.Now())
			delete(u.wants, id)
		}
	}
	// A pull that left no hole and wanted nothing it lacked ends p's
	// record: its backoff starts afresh at the next hole.
	if clean && len(u.holes) == 0 && len(u.wants) == 0 && u.nSkip == 0 && len(u.gaveUp) == 0 && gd.peers[p] == u {
		delete(gd.peers, p)
	}
}

// giveUpHoles marks every seq in (Have, Max] that r's author lacks as given
// up with p (u is p's record).
func (g *Group) giveUpHoles(st Store, p peer.ID, u *giveUps, r store.AuthorRange, count func(error)) {
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
	if u.skipped == nil {
		u.skipped = map[string]map[uint64]bool{}
	}
	if u.skipped[a] == nil {
		u.skipped[a] = map[uint64]bool{}
	}
	for _, s := range holes {
		if gd.nSkip >= maxSkipped {
			return
		}
		if !u.skipped[a][s] {
			if !gd.skippedElsewhereLocked(p, a, s) {
				count(ErrSeqGap)
			}
			u.skipped[a][s] = true
			u.noteGiveUpLocked(time.Now())
			u.nSkip++
			gd.nSkip++
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
