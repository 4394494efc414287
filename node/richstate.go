package node

import (
	"encoding/hex"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Reading rich messages: the actions on a message (reactions, edits,
// deletes) are folded into it from the store's relations index, and are
// not listed in the history themselves. Rules: docs/messages.md.

// Quote is what a reply shows of the message it answers.
type Quote struct {
	ID         string `json:"id"`
	Author     string `json:"author,omitempty"`
	AuthorName string `json:"author_name,omitempty"`
	Excerpt    string `json:"excerpt,omitempty"`
	Deleted    bool   `json:"deleted,omitempty"`
}

// Reaction is one emoji on a message: who put it there.
type Reaction struct {
	Emoji   string   `json:"emoji"`
	Count   int      `json:"count"`
	Mine    bool     `json:"mine,omitempty"`
	Members []string `json:"members"`
}

// EditEntry is a text a message had before an edit replaced it.
type EditEntry struct {
	Text string    `json:"text"`
	Time time.Time `json:"time"`
}

// Kinds that act on another message: folded, never listed.
const (
	KindReaction  = "reaction"
	KindEdit      = "edit"
	KindDelete    = "delete"
	KindVote      = "vote"
	KindPollClose = "poll_close"
	KindReceipt   = "receipt"
	// KindDeleted is a deleted message's kind (its body, kind included, is erased).
	KindDeleted = "deleted"
)

const excerptRunes = 80

func hiddenKind(k string) bool {
	switch k {
	case KindReaction, KindEdit, KindDelete, KindVote, KindPollClose, KindReceipt:
		return true
	}
	return false
}

// richFields fills the rich parts a message's own body carries.
func richFields(m *Message, v *envelope.Verified) {
	switch b := v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Text:
		if len(b.Text.ReplyTo) == store.MessageIDLen {
			m.ReplyTo = hex.EncodeToString(b.Text.ReplyTo)
		}
		for _, p := range b.Text.Mentions {
			if id, err := peer.IDFromBytes(p); err == nil {
				m.Mentions = append(m.Mentions, id.String())
			}
		}
	case *wirepb.Body_Reaction:
		m.Kind = KindReaction
	case *wirepb.Body_Edit:
		m.Kind = KindEdit
	case *wirepb.Body_Delete:
		m.Kind = KindDelete
	case *wirepb.Body_Vote:
		m.Kind = KindVote
	case *wirepb.Body_PollClose:
		m.Kind = KindPollClose
	case *wirepb.Body_Receipt:
		m.Kind = KindReceipt
	}
	m.Reactions = []Reaction{}
}

// visibleHistory is History's body: up to limit displayable messages
// before cur, oldest first, with their actions folded in.
func (l *Local) visibleHistory(g store.GroupID, cur *store.Cursor, limit int) ([]Message, error) {
	names := l.memberNames(g)
	var out []Message // newest first
	for len(out) < limit {
		want := min(max(2*(limit-len(out)), 64), 10000)
		page, err := l.st.History(g, cur, want)
		if err != nil {
			return nil, err
		}
		for i := len(page) - 1; i >= 0 && len(out) < limit; i-- {
			m, ok, err := l.display(g, page[i], names)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, m)
			}
		}
		if len(page) < want {
			break
		}
		cur = &store.Cursor{Lamport: page[0].Lamport, ID: page[0].ID}
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	if l.deliveryOf != nil { // a running node: delivery state of own messages
		l.deliveryOf(g, out)
	}
	return out, nil
}

// message reads one message with its actions folded in (hidden kinds too).
func (l *Local) message(g store.GroupID, id store.MessageID) (Message, error) {
	st, err := l.st.Get(g, id)
	if err != nil {
		return Message{}, err
	}
	m, _, err := l.display(g, st, l.memberNames(g))
	return m, err
}

// display decodes and folds one stored message; ok is false for what the
// history does not list.
func (l *Local) display(g store.GroupID, s store.Stored, names map[peer.ID]string) (Message, bool, error) {
	if s.Erased {
		m, ok := l.erasedMessage(g, s, names)
		return m, ok, nil
	}
	m, err := decodeStored(g, s, names)
	if err != nil {
		return Message{}, false, err
	}
	if hiddenKind(m.Kind) {
		return m, false, nil
	}
	l.fold(g, s.ID, &m)
	l.decorate(g, &m, names)
	return m, true, nil
}

// decorate adds what depends on the reader: the quote and MentionsMe.
func (l *Local) decorate(g store.GroupID, m *Message, names map[peer.ID]string) {
	if len(m.Mentions) > 0 {
		self := authorString(l.self) // cached: base58 per message event showed in profiles
		for _, p := range m.Mentions {
			if p == self {
				m.MentionsMe = true
			}
		}
	}
	if m.ReplyTo == "" {
		return
	}
	if names == nil { // a live event: names only for the quote
		names = l.memberNames(g)
	}
	raw, err := hex.DecodeString(m.ReplyTo)
	if err != nil || len(raw) != store.MessageIDLen {
		return
	}
	st, err := l.st.Get(g, store.MessageID(raw))
	if err != nil {
		return // not held (yet)
	}
	q := &Quote{ID: m.ReplyTo}
	if st.Erased {
		q.Deleted = true
		m.Quote = q
		return
	}
	t, err := decodeStored(g, st, names)
	if err != nil {
		return
	}
	l.fold(g, st.ID, &t)
	q.Author, q.AuthorName, q.Excerpt = t.Author, t.AuthorName, excerpt(t.Text)
	m.Quote = q
}

func excerpt(s string) string {
	r := []rune(s)
	if len(r) <= excerptRunes {
		return s
	}
	return string(r[:excerptRunes-1]) + "…"
}

// fold applies the reactions and edits held for message id to m.
func (l *Local) fold(g store.GroupID, id store.MessageID, m *Message) {
	type rkey struct{ author, emoji string }
	on := map[rkey]bool{}
	var order []rkey
	var edits []EditEntry
	isText := m.Kind == "text"
	l.relatedActs(g, id, func(a richAct) {
		switch a.kind {
		case richActReaction:
			k := rkey{a.author, a.emoji}
			if _, seen := on[k]; !seen {
				order = append(order, k)
			}
			on[k] = !a.remove // the latest op in (lamport, id) order decides
		case richActEdit:
			if isText && a.author == m.Author {
				edits = append(edits, EditEntry{Text: a.text, Time: time.UnixMilli(a.timeMs)})
			}
		}
	})
	if len(edits) > 0 {
		prev := append([]EditEntry{{Text: m.Text, Time: m.Time}}, edits[:len(edits)-1]...)
		m.Text, m.Edited, m.Edits = edits[len(edits)-1].Text, true, prev
	}
	self := l.self.String()
	byEmoji := map[string]int{}
	m.Reactions = []Reaction{}
	for _, k := range order {
		if !on[k] {
			continue
		}
		i, ok := byEmoji[k.emoji]
		if !ok {
			i = len(m.Reactions)
			byEmoji[k.emoji] = i
			m.Reactions = append(m.Reactions, Reaction{Emoji: k.emoji})
		}
		r := &m.Reactions[i]
		r.Count++
		r.Members = append(r.Members, k.author)
		r.Mine = r.Mine || k.author == self
	}
	for i := range m.Reactions {
		sort.Strings(m.Reactions[i].Members)
	}
}

// erasedMessage shows a deleted message from its first tombstone (every
// node that holds the same tombstones shows the same thing); an erased
// message no tombstone names is not listed.
func (l *Local) erasedMessage(g store.GroupID, s store.Stored, names map[peer.ID]string) (Message, bool) {
	var m Message
	found := false
	_ = l.st.Related(g, s.ID, func(r store.Stored) bool {
		v, err := envelope.DecodeSigned(r.Raw)
		if err != nil {
			return true
		}
		d, ok := v.Msg.Body.GetKind().(*wirepb.Body_Delete)
		if !ok {
			return true
		}
		pub, err := crypto.UnmarshalPublicKey(d.Delete.TargetAuthor)
		if err != nil {
			return true
		}
		author, err := peer.IDFromPublicKey(pub)
		if err != nil {
			return true
		}
		m = Message{ID: hex.EncodeToString(s.ID[:]), Group: hex.EncodeToString(g[:]), Author: authorString(author),
			AuthorName: names[author], Seq: d.Delete.TargetSeq, Lamport: s.Lamport, Time: time.UnixMilli(v.Msg.TimestampMs),
			Kind: KindDeleted, Deleted: true, Reactions: []Reaction{}, Cursor: formatCursor(s.Lamport, s.ID)}
		found = true
		return false
	})
	return m, found
}

// hiddenBody reports a message that acts on another: no message event.
func hiddenBody(v *envelope.Verified) bool {
	var m Message
	richFields(&m, v)
	return hiddenKind(m.Kind)
}
