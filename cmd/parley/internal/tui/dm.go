package tui

// Direct messages in the full-screen chat (chatcmd.DMFront): /dm sends and
// switches to the conversation, /contact shows our contact code with a QR.

import (
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.DMFront = (*front)(nil)

func (f *front) DM(contact, text string) error {
	m := f.m
	msg, err := m.be.SendDM(m.ctx, contact, text)
	if err != nil {
		return err
	}
	return f.Switch(msg.Group)
}

func (f *front) ContactCode() error {
	m := f.m
	code, err := m.be.ContactCode(true)
	if err != nil {
		return err
	}
	md := &modal{kind: modalInvite, title: "Your contact code (parley contact add CODE)", code: code}
	if bm, err := qrBitmap(code); err != nil {
		md.qrErr = err.Error()
	} else {
		md.qr = bm
	}
	m.modal = md
	return nil
}

// groupLabel is a group's name in the list: a conversation is marked "@".
func groupLabel(gi node.GroupInfo) string {
	if gi.Kind == "dm" {
		return "@" + termtext.OneLine(gi.Name)
	}
	return termtext.OneLine(gi.Name)
}
