package syncproto

import (
	"sort"

	"github.com/libp2p/go-msgio/pbio"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// smallPlan is the most plan entries an answer lists in memory; a larger
// answer is one ordered scan of the history instead (answer). A variable
// so fuzzing reaches both paths with a small store.
var smallPlan uint64 = 4096

// PlanEntry is one message a responder sends.
type PlanEntry struct {
	Lamport uint64
	ID      store.MessageID
}

// Plan lists what the requester lacks: per author, every seq above its
// vector entry from req.SinceMs on; plus the ids it asked for by name.
// Sorted by (lamport, id), so parents travel before children. It builds the
// whole list: answer streams the same messages in bounded memory; Plan is
// their definition (tests, fuzzing).
func (s *Syncer) Plan(g *Group, req *wirepb.SyncRequest) ([]PlanEntry, error) {
	have := haveMap(req)
	vec, err := s.cfg.Store.Vector(g.ID)
	if err != nil {
		return nil, err
	}
	seen := map[store.MessageID]bool{}
	var out []PlanEntry
	for _, a := range vec {
		err := s.cfg.Store.AuthorAfter(g.ID, a.Author, have[string(a.Author)], func(e store.AuthorIndexEntry) bool {
			if e.TimeMs >= req.SinceMs && !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, PlanEntry{e.Lamport, e.ID})
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	for _, w := range req.Want {
		if len(w) != store.MessageIDLen {
			continue
		}
		id := store.MessageID(w)
		if seen[id] {
			continue
		}
		if st, err := s.cfg.Store.Get(g.ID, id); err == nil {
			seen[id] = true
			out = append(out, PlanEntry{st.Lamport, id})
		}
	}
	sortPlan(out)
	return out, nil
}

func haveMap(req *wirepb.SyncRequest) map[string]uint64 {
	have := make(map[string]uint64, len(req.Have))
	for _, a := range req.Have {
		if a != nil {
			have[string(a.Author)] = a.Seq
		}
	}
	return have
}

func sortPlan(out []PlanEntry) {
	sort.Slice(out, func(i, j int) bool {
		if out[i].Lamport != out[j].Lamport {
			return out[i].Lamport < out[j].Lamport
		}
		return string(out[i].ID[:]) < string(out[j].ID[:])
	})
}

// batcher writes messages as SyncBatches of bounded count and size.
type batcher struct {
	s        *Syncer
	w        pbio.Writer
	deadline func()
	total    uint64
	sent     uint64
	batch    *wirepb.SyncBatch
	size     int
	extra    int // plan entries held besides the batch
}

func (b *batcher) flush(done bool) error {
	b.sent += uint64(len(b.batch.Messages))
	b.batch.Remaining = b.total - min(b.sent, b.total)
	b.batch.Done = done
	b.deadline()
	err := b.w.WriteMsg(b.batch)
	b.batch = &wirepb.SyncBatch{}
	b.size = 0
	return err
}

func (b *batcher) add(raw []byte) error {
	if len(b.batch.Messages) == MaxBatchMessages || b.size+len(raw) > maxBatchBytes {
		if err := b.flush(false); err != nil {
			return err
		}
	}
	b.batch.Messages = append(b.batch.Messages, raw)
	b.size += len(raw)
	b.s.noteHeld(int64(len(b.batch.Messages) + b.extra))
	return nil
}

func (s *Syncer) noteHeld(n int64) {
	for {
		old := s.maxHeld.Load()
		if n <= old || s.maxHeld.CompareAndSwap(old, n) {
			return
		}
	}
}

// answer streams what Plan lists (wanted ids only from floor on, the
// serving side's history-from-join bound; the rest from max(since_ms,
// floor)) without building it: the wanted ids first (at most MaxWant),
// then, if the author plan is small, its entries sorted; else one ordered
// scan of the history from the plan's lowest clock, filtering by the
// requester's vector. At most smallPlan + MaxWant entries and one batch are
// held at once.
func (s *Syncer) answer(g *Group, req *wirepb.SyncRequest, floor int64, w pbio.Writer, deadline func()) error {
	have := haveMap(req)
	since := max(req.SinceMs, floor)
	due := func(author string, seq uint64, ts int64) bool {
		return seq > have[author] && ts >= since
	}
	// Wanted ids: kept as (lamport, id) only, read again when sent.
	var wants []PlanEntry
	wanted := map[store.MessageID]bool{}
	for _, raw := range req.Want {
		if len(raw) != store.MessageIDLen || wanted[store.MessageID(raw)] {
			continue
		}
		id := store.MessageID(raw)
		st, err := s.cfg.Store.Get(g.ID, id)
		if err != nil {
			continue
		}
		v, err := envelope.DecodeSigned(st.Raw)
		if err != nil || v.Msg.TimestampMs < floor || due(string(v.Author), v.Msg.Seq, v.Msg.TimestampMs) {
			continue // refused by the floor, or sent with its author's messages
		}
		wanted[id] = true
		wants = append(wants, PlanEntry{st.Lamport, id})
	}
	sortPlan(wants)

	// The author plan: counted (and listed while small) from the index.
	vec, err := s.cfg.Store.Vector(g.ID)
	if err != nil {
		return err
	}
	var small []PlanEntry
	var count uint64
	minLamport := uint64(0)
	for _, a := range vec {
		err := s.cfg.Store.AuthorAfter(g.ID, a.Author, have[string(a.Author)], func(e store.AuthorIndexEntry) bool {
			if e.TimeMs < since {
				return true
			}
			count++
			if minLamport == 0 || e.Lamport < minLamport {
				minLamport = e.Lamport
			}
			if count <= smallPlan {
				small = append(small, PlanEntry{e.Lamport, e.ID})
			} else {
				small = nil
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	b := &batcher{s: s, w: w, deadline: deadline, total: uint64(len(wants)) + count, batch: &wirepb.SyncBatch{}, extra: len(wants) + len(small)}
	for _, e := range wants {
		m, err := s.cfg.Store.GetAt(g.ID, e.Lamport, e.ID)
		if err != nil {
			return err
		}
		if m.Erased {
			continue
		}
		if err := b.add(m.Raw); err != nil {
			return err
		}
	}
	if count <= smallPlan {
		sortPlan(small)
		for _, e := range small {
			m, err := s.cfg.Store.GetAt(g.ID, e.Lamport, e.ID)
			if err != nil {
				return err
			}
			if m.Erased {
				continue // the requester counts it held from its tombstone
			}
			if err := b.add(m.Raw); err != nil {
				return err
			}
		}
		return b.flush(true)
	}
	// A large answer: one ordered scan beats a random read per message,
	// and holds nothing but the batch.
	var werr error
	left := count
	start := &store.Cursor{Lamport: minLamport - 1}
	for i := range start.ID {
		start.ID[i] = 0xff
	}
	err = s.cfg.Store.After(g.ID, start, func(m store.Stored) bool {
		// Only author, seq and time decide: read just those.
		pk, ok := envelope.PeekSigned(m.Raw)
		if !ok {
			return true
		}
		author, err := envelope.AuthorID(pk.Author)
		if err != nil || !due(string(author), pk.Seq, pk.TimestampMs) {
			return true
		}
		if werr = b.add(m.Raw); werr != nil {
			return false
		}
		left--
		return left > 0
	})
	if err != nil {
		return err
	}
	if werr != nil {
		return werr
	}
	return b.flush(true)
}
