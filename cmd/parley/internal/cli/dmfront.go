package cli

import (
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
)

// Direct messages in the line chat (chatcmd.DMFront).

var _ chatcmd.DMFront = (*lineFront)(nil)

func (f *lineFront) DM(contact, text string) error {
	m, err := f.c.n.SendDM(f.ctx, contact, text)
	if err != nil {
		return contactHint(err)
	}
	f.c.current = m.Group
	f.c.printf("sent to %s; now in the conversation\n", termtext.OneLine(f.c.groupName(m.Group)))
	return nil
}

func (f *lineFront) ContactCode() error {
	code, err := f.c.n.ContactCode(true)
	if err != nil {
		return err
	}
	f.c.printf("your contact code (others add you with `parley contact add CODE`):\n%s\n", code)
	return nil
}
