package chatcmd

import (
	"slices"
	"strings"
)

// DMFront is a front end that sends direct messages (both chats).
type DMFront interface {
	// DM sends text to contact (name, safety number or peer id prefix),
	// opening the conversation if need be, and switches to it.
	DM(contact, text string) error
	// ContactCode shows our contact code.
	ContactCode() error
}

func isDMFront(f Front) bool { _, ok := f.(DMFront); return ok }

// init puts the direct-message commands before /help.
func init() {
	cmds := []*Command{
		{Name: "dm", Aliases: []string{"msg"}, Args: "CONTACT TEXT", NeedArg: true, offered: isDMFront,
			Help: "send TEXT to CONTACT (name, safety number or peer id prefix) and switch to the conversation",
			Run: func(f Front, arg string) error {
				contact, text, _ := strings.Cut(arg, " ")
				if text = strings.TrimSpace(text); text == "" {
					return Lookup("dm").UsageError()
				}
				return f.(DMFront).DM(contact, text)
			}},
		{Name: "contact", Help: "show your contact code (others add you with `parley contact add CODE`)", offered: isDMFront,
			Run: func(f Front, _ string) error { return f.(DMFront).ContactCode() }},
	}
	at := slices.IndexFunc(table, func(c *Command) bool { return c.Name == "help" })
	if at < 0 {
		at = len(table)
	}
	table = slices.Insert(table, at, cmds...)
}
