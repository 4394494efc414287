package node

// What this device has read: a read position per group, the conversation
// last open and muted groups, kept as local state in the store (never
// synced), and the unread and mention counts derived from them.

import (
	"encoding/hex"

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

// readPosition is where g was last read up to (nil: never opened).
func (l *Local) readPosition(g store.GroupID) *store.Cursor {
	b, err := l.st.LocalState(readKey(g))
	if err != nil {
		return nil
	}
	c, err := parseCursor(string(b))
	if err != nil {
		return nil
	}
	return &c
}

// MarkRead marks every message of a group held now as read, and remembers
// the group as the conversation last open (LastOpen).
func (l *Local) MarkRead(ref string) error {
	g, err := l.resolve(ref)
	if err != nil {
		return err
	}
	last, err := l.st.History(g.ID, nil, 1)
	if err != nil {
		return err
	}
	if len(last) == 1 {
		if err := l.st.PutLocalState(readKey(g.ID), []byte(formatCursor(last[0].Lamport, last[0].ID))); err != nil {
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
// receipts, joins or membership ops) after the read position, and those
// of them that mention us.
func (l *Local) unread(g store.GroupID) (unread, mentions int, err error) {
	self := []byte(l.self)
	err = l.st.After(g, l.readPosition(g), func(s store.Stored) bool {
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
