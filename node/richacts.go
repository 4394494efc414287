package node

// Decoded reactions and edits, cached by message id. A message's actions
// are folded again each time it is shown (and after every new reaction on
// it, for the update event): with the cache, a message with n reactions
// costs a scan of n relation keys, not n reads and decodes.

import (
	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// richAct is what fold needs of a message naming another.
type richAct struct {
	kind   int8 // richActOther, richActReaction, richActEdit
	author string
	emoji  string // reaction
	remove bool   // reaction
	text   string // edit
	timeMs int64  // edit
}

const (
	richActOther = iota // a reply, a vote, a delete...
	richActReaction
	richActEdit
)

func decodeRichAct(raw []byte) (richAct, error) {
	v, err := envelope.DecodeSigned(raw)
	if err != nil {
		return richAct{}, err
	}
	ra := richAct{author: authorString(v.Author)}
	switch b := v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Reaction:
		ra.kind, ra.emoji, ra.remove = richActReaction, b.Reaction.Emoji, b.Reaction.Remove
	case *wirepb.Body_Edit:
		ra.kind, ra.text, ra.timeMs = richActEdit, b.Edit.Text, v.Msg.TimestampMs
	}
	return ra, nil
}

// relatedActs calls fn, in (lamport, id) order, for each held and not
// erased message naming id (errors skip: a fold shows what it can read).
// A message's actions are never erased while it is not (a delete erases
// the edits it names with their target), so a cached one is still held.
func (l *Local) relatedActs(g store.GroupID, id store.MessageID, fn func(richAct)) {
	c := &l.pollActs.rich
	_ = l.st.RelatedIDs(g, id, func(lamport uint64, rid store.MessageID) bool {
		ra, ok := c.get(g, rid)
		if !ok {
			s, err := l.st.GetAt(g, lamport, rid)
			if err != nil || s.Erased {
				return true
			}
			if ra, err = decodeRichAct(s.Raw); err != nil {
				return true
			}
			c.put(g, rid, ra)
		}
		fn(ra)
		return true
	})
}
