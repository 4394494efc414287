package node

// Messages known to be missing: per author, the seqs between what we hold
// without a gap and the highest seq anyone is known to hold (we, from a
// later message of that author, or a member, from its receipt); and the
// parents that held messages name but we lack, where no author is known.

import (
	"cmp"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/store"
)

// maxGapMarkers bounds the gap markers read for the author-less count.
const maxGapMarkers = 10000

// MissingInfo is a count of messages known to exist but not yet received.
// Author and Name are empty for messages known only as a missing parent.
type MissingInfo struct {
	Author string `json:"author,omitempty"`
	Name   string `json:"name,omitempty"`
	Count  int    `json:"count"`
}

// uxHooks are what a running node adds to the store's view (nil in a Local
// without a node): the receipts it has read, and what reading does.
type uxHooks struct {
	// known: per author, the highest seq a member's receipt says it holds.
	known func(g store.GroupID) map[peer.ID]uint64
	// deliveryOf fills the delivery state of own messages.
	deliveryOf func(g store.GroupID, ms []Message)
	// onRead: the read position of g moved (read receipts follow).
	onRead func(g store.GroupID)
}

// Missing lists the messages of a group known to be missing, by author.
func (l *Local) Missing(ref string) ([]MissingInfo, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	return l.missing(g.ID)
}

func (l *Local) missing(g store.GroupID) ([]MissingInfo, error) {
	rec, err := l.st.GetGroup(g)
	if err != nil {
		return nil, err
	}
	ranges, err := l.st.VectorRanges(g)
	if err != nil {
		return nil, err
	}
	top := map[peer.ID]uint64{}
	have := map[peer.ID]uint64{}
	for _, r := range ranges {
		a := peer.ID(r.Author)
		top[a], have[a] = r.Max, r.Have
	}
	if l.known != nil {
		for a, s := range l.known(g) {
			top[a] = max(top[a], s)
		}
	}
	names := l.memberNames(g)
	var out []MissingInfo
	sum := 0
	for a, t := range top {
		h := have[a]
		if t <= h {
			continue
		}
		held, first := uint64(0), uint64(0)
		err := l.st.AuthorAfter(g, []byte(a), h, func(e store.AuthorIndexEntry) bool {
			if first == 0 {
				first = e.Seq
			}
			if e.Seq > t {
				return false
			}
			held++
			return true
		})
		if err != nil {
			return nil, err
		}
		gapFree := h
		if rec.HistoryFromJoin && h == 0 && first > 0 {
			// History from join: what came before the first message we
			// hold was never ours to receive.
			gapFree, held = first, held-1
		}
		n := int(t-gapFree) - int(held)
		if n <= 0 {
			continue
		}
		out = append(out, MissingInfo{Author: a.String(), Name: names[a], Count: n})
		sum += n
	}
	if !rec.HistoryFromJoin {
		gaps, err := l.st.Missing(g, maxGapMarkers)
		if err != nil {
			return nil, err
		}
		if len(gaps) > sum {
			out = append(out, MissingInfo{Count: len(gaps) - sum})
		}
	}
	slices.SortFunc(out, func(a, b MissingInfo) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Author, b.Author))
	})
	return out, nil
}
