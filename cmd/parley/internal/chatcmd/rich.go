package chatcmd

import (
	"strconv"
	"strings"
	"sync"
)

// RichFront is a front end that replies to, reacts to, edits and deletes
// messages (both chats). ref is what the user typed for the message: its
// number as shown (see Numbers) or an id prefix; the front resolves it.
type RichFront interface {
	Reply(ref, text string) error
	React(ref, emoji string, remove bool) error
	Edit(ref, text string) error
	Delete(ref string) error
}

func isRichFront(f Front) bool { _, ok := f.(RichFront); return ok }

// The rich commands go before /peers in /help.
func init() {
	rich := []*Command{
		{Name: "reply", Aliases: []string{"re"}, Args: "N TEXT", NeedArg: true, offered: isRichFront,
			Help: "reply to message N (its #number, or an id prefix) quoting it",
			Run: func(f Front, arg string) error {
				ref, text, ok := refAndRest(arg)
				if !ok {
					return Lookup("reply").UsageError()
				}
				return f.(RichFront).Reply(ref, text)
			}},
		{Name: "react", Args: "N EMOJI", NeedArg: true, offered: isRichFront,
			Help: "add an emoji reaction to message N",
			Run:  func(f Front, arg string) error { return runReact(f, arg, "react", false) }},
		{Name: "unreact", Args: "N EMOJI", NeedArg: true, offered: isRichFront,
			Help: "take back your reaction on message N",
			Run:  func(f Front, arg string) error { return runReact(f, arg, "unreact", true) }},
		{Name: "edit", Args: "N TEXT", NeedArg: true, offered: isRichFront,
			Help: "replace the text of your message N",
			Run: func(f Front, arg string) error {
				ref, text, ok := refAndRest(arg)
				if !ok {
					return Lookup("edit").UsageError()
				}
				return f.(RichFront).Edit(ref, text)
			}},
		{Name: "delete", Aliases: []string{"del"}, Args: "N", NeedArg: true, offered: isRichFront,
			Help: "delete message N (yours, or anyone's as an admin)",
			Run: func(f Front, arg string) error {
				if len(strings.Fields(arg)) != 1 {
					return Lookup("delete").UsageError()
				}
				return f.(RichFront).Delete(arg)
			}},
	}
	at := len(table)
	for i, c := range table {
		if c.Name == "peers" {
			at = i
			break
		}
	}
	table = append(table[:at], append(rich, table[at:]...)...)
}

func runReact(f Front, arg, name string, remove bool) error {
	ref, emoji, ok := refAndRest(arg)
	if !ok || len(strings.Fields(emoji)) != 1 {
		return Lookup(name).UsageError()
	}
	return f.(RichFront).React(ref, emoji, remove)
}

// refAndRest splits "N rest of line".
func refAndRest(arg string) (ref, rest string, ok bool) {
	ref, rest, _ = strings.Cut(strings.TrimSpace(arg), " ")
	rest = strings.TrimSpace(rest)
	return ref, rest, ref != "" && rest != ""
}

// Numbers gives the messages a chat shows short numbers, stable for the
// session: a message keeps its number whatever arrives or loads later.
// Chats show it as "#N"; commands take N, #N or an id prefix (8+ hex).
type Numbers struct {
	mu   sync.Mutex
	byID map[string]int
	ids  []string
}

// Of is id's number, given on first use.
func (n *Numbers) Of(id string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.byID == nil {
		n.byID = map[string]int{}
	}
	if k, ok := n.byID[id]; ok {
		return k
	}
	n.ids = append(n.ids, id)
	n.byID[id] = len(n.ids)
	return len(n.ids)
}

// Resolve turns what the user typed into a message id or id prefix: a
// known number becomes its id; anything else is passed on as an id prefix.
func (n *Numbers) Resolve(ref string) string {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "#")
	k, err := strconv.Atoi(ref)
	if err != nil || len(ref) >= 8 {
		return ref
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if k >= 1 && k <= len(n.ids) {
		return n.ids[k-1]
	}
	return ref
}
