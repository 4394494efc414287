package node

// What this device has read: a read position per group, the conversation
// last open and muted groups, kept as local state in the store (never
// synced), and the unread and mention counts derived from them.

import (
	"encoding/hex"
	"fmt"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// MaxUnreadCount caps the unread count of one group: counting walks the
// unread messages, so a never-opened group with a long history stops here.
const MaxUnreadCount = 1000

func readKey(g store.GroupID) string { return "read/" + hex.EncodeToString(g[:]) }
func muteKey(g store.GroupID) string { return "mute/" + hex.EncodeToString(g[:]) }

const lastOpenKey = "last-open"

// readPos is where g was last read: how many of its messages had arrived
// (unread counts what arrived since, in whatever place of history it sorts)
// and the newest message in history then (what a read receipt names).
type readPos struct {
	arrived uint64
	last    store.Cursor
}

// readPosition is where g was last read (nil: never opened). A position
// kept before arrivals were counted (a bare history cursor) is converted.
func (l *Local) readPosition(g store.GroupID) *readPos {
	b, err := l.st.LocalState(readKey(g))
	if err != nil {
		return nil
	}
	var p readPos
	var cur string
	if n, err := fmt.Sscanf(string(b), "v2 %d %s", &p.arrived, &cur); err == nil && n == 2 {
		if p.last, err = parseCursor(cur); err != nil {
			return nil
		}
		return &p
	}
	if p.last, err = parseCursor(string(b)); err != nil {
		return nil
	}
	// Read is what arrived up to the message read last, wherever the later
	// arrivals sort. Without that message (erased since), what sorts up to
	// the cursor: the schema 5 migration numbered history in that order.
	n, held, err := l.st.ArrivalOf(g, p.last)
	if err != nil {
		return nil
	}
	if p.arrived = n; !held {
		if p.arrived, err = l.st.ArrivalsThrough(g, p.last); err != nil {
			return nil
		}
	}
	// Kept converted: messages arriving from now on sort anywhere.
	_ = l.st.PutLocalState(readKey(g), []byte(formatReadPos(p)))
	return &p
}

func formatReadPos(p readPos) string {
	return fmt.Sprintf("v2 %d %s", p.arrived, formatCursor(p.last.Lamport, p.last.ID))
}

// MarkRead marks every message of a group held now as read, and remembers
// the group as the conversation last open (LastOpen).
func (l *Local) MarkRead(ref string) error {
	g, err := l.resolve(ref)
	if err != nil {
		return err
	}
	// History first: the count read after it covers the newest message.
	last, err := l.st.History(g.ID, nil, 1)
	if err != nil {
		return err
	}
	st, err := l.st.GroupStats(g.ID)
	if err != nil {
		return err
	}
	if len(last) == 1 {
		pos := readPos{arrived: st.Count, last: store.Cursor{Lamport: last[0].Lamport, ID: last[0].ID}}
		if err := l.st.PutLocalState(readKey(g.ID), []byte(formatReadPos(pos))); err != nil {
			return err
		}
	}
	if l.onRead != nil {
		l.onRead(g.ID)
	}
	return l.st.PutLocalState(lastOpenKey, []byte(hex.EncodeToString(g.ID[:])))
}

// LastOpen is the id of the group last marked read (the conversation a
// front end reopens after a restart), or "" if none is held.
func (l *Local) LastOpen() string {
	b, err := l.st.LocalState(lastOpenKey)
	if err != nil {
		return ""
	}
	if _, err := l.resolve(string(b)); err != nil {
		return ""
	}
	return string(b)
}

// SetMuted mutes or unmutes a group: a muted group's unread messages are
// still counted, but front ends show them quietly and notify nothing.
func (l *Local) SetMuted(ref string, muted bool) error {
	g, err := l.resolve(ref)
	if err != nil {
		return err
	}
	if muted {
		return l.st.PutLocalState(muteKey(g.ID), []byte{1})
	}
	return l.st.DeleteLocalState(muteKey(g.ID))
}

func (l *Local) muted(g store.GroupID) bool {
	_, err := l.st.LocalState(muteKey(g))
	return err == nil
}

// fillUX adds the unread, mention, mute and missing facts to gi.
func (l *Local) fillUX(g store.Group, gi *GroupInfo) error {
	gi.Muted = l.muted(g.ID)
	unread, mentions, err := l.unread(g.ID)
	if err != nil {
		return err
	}
	gi.Unread, gi.Mentions = unread, mentions
	gi.Missing, err = l.missing(g.ID)
	return err
}

// unread counts the messages others wrote that a person reads (not
// receipts, joins or membership ops) that arrived after the read position,
// and those of them that mention us.
func (l *Local) unread(g store.GroupID) (unread, mentions int, err error) {
	self := []byte(l.self)
	var seen uint64
	if p := l.readPosition(g); p != nil {
		seen = p.arrived
	}
	err = l.st.ArrivedAfter(g, seen, func(s store.Stored) bool {
		v, err := envelope.DecodeSigned(s.Raw)
		if err != nil || v.Author == l.self {
			return true
		}
		switch b := v.Msg.Body.GetKind().(type) {
		case *wirepb.Body_Text:
			unread++
			for _, m := range b.Text.Mentions {
				if string(m) == string(self) {
					mentions++
					break
				}
			}
		case *wirepb.Body_Poll, *wirepb.Body_File:
			unread++
		}
		return unread < MaxUnreadCount
	})
	return unread, mentions, err
}
