package chatcmd

import (
	"slices"
	"strconv"
)

// SearchFront is a front end that searches the local history (both chats).
type SearchFront interface {
	// Search lists the messages with every word of query, numbered,
	// newest first.
	Search(query string) error
	// OpenResult opens result n (from 1) of the last search: its group, at
	// that message.
	OpenResult(n int) error
}

func isSearchFront(f Front) bool { _, ok := f.(SearchFront); return ok }

// The search commands go in before /help (this file's init runs after
// chatcmd.go's, which builds the table: files initialise in name order).
func init() {
	cmds := []*Command{
		{Name: "search", Aliases: []string{"find"}, Args: "WORDS", NeedArg: true, offered: isSearchFront,
			Help: "find messages with every word, in all groups, newest first",
			Run:  func(f Front, arg string) error { return f.(SearchFront).Search(arg) }},
		{Name: "open", Args: "N", NeedArg: true, offered: isSearchFront,
			Help: "open search result N in its group, at that message",
			Run: func(f Front, arg string) error {
				n, err := strconv.Atoi(arg)
				if err != nil || n < 1 {
					return Lookup("open").UsageError()
				}
				return f.(SearchFront).OpenResult(n)
			}},
	}
	at := slices.IndexFunc(table, func(c *Command) bool { return c.Name == "help" })
	if at < 0 {
		at = len(table)
	}
	table = slices.Insert(table, at, cmds...)
}
