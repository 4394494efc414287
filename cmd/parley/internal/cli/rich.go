package cli

// Rich-message commands: send (with --reply, or the text from stdin),
// react, edit, delete. With a running node they go through its API;
// without one, a node is started on loopback for the one action: the
// message is stored and reaches the group when a node next runs.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

func (a *app) richCmds() []*cobra.Command {
	return []*cobra.Command{a.sendCmd(), a.reactCmd(), a.editCmd(), a.deleteCmd()}
}

// writer is what the rich commands need: the API client or a local node.
type writer interface {
	send(ctx context.Context, group, text, replyTo string) (node.Message, error)
	react(ctx context.Context, group, id, emoji string, remove bool) error
	edit(ctx context.Context, group, id, text string) error
	del(ctx context.Context, group, id string) error
}

type clientWriter struct{ c *api.Client }

func (w clientWriter) send(ctx context.Context, g, text, reply string) (node.Message, error) {
	return w.c.SendReply(ctx, g, text, reply)
}
func (w clientWriter) react(ctx context.Context, g, id, e string, rm bool) error {
	return w.c.React(ctx, g, id, e, rm)
}
func (w clientWriter) edit(ctx context.Context, g, id, t string) error {
	return w.c.Edit(ctx, g, id, t)
}
func (w clientWriter) del(ctx context.Context, g, id string) error { return w.c.Delete(ctx, g, id) }

type nodeWriter struct{ n *node.Node }

func (w nodeWriter) send(ctx context.Context, g, text, reply string) (node.Message, error) {
	return w.n.SendWith(ctx, g, text, node.SendOptions{ReplyTo: reply})
}
func (w nodeWriter) react(ctx context.Context, g, id, e string, rm bool) error {
	return w.n.React(ctx, g, id, e, rm)
}
func (w nodeWriter) edit(ctx context.Context, g, id, t string) error { return w.n.Edit(ctx, g, id, t) }
func (w nodeWriter) del(ctx context.Context, g, id string) error     { return w.n.Delete(ctx, g, id) }

// write runs fn against the running node, or a node started for it.
func (a *app) write(ctx context.Context, fn func(w writer) error) error {
	c, err := a.client()
	if err == nil {
		err = fn(clientWriter{c})
	}
	if !errors.Is(err, api.ErrNotRunning) {
		return err
	}
	return a.withLocalNode(ctx, func(n *node.Node) error { return fn(nodeWriter{n}) })
}

func (a *app) sendCmd() *cobra.Command {
	var reply string
	cmd := &cobra.Command{
		Use:   "send GROUP TEXT...",
		Short: "Send a message to a group and print its id (TEXT \"-\": read it from standard input)",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			text := joinArgs(args[1:])
			if len(args) == 2 && args[1] == "-" {
				b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), node.MaxTextLen+2))
				if err != nil {
					return err
				}
				text = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
				if len(text) > node.MaxTextLen {
					return fmt.Errorf("%w: the text is over %d bytes", node.ErrInvalidInput, node.MaxTextLen)
				}
			}
			return a.write(cmd.Context(), func(w writer) error {
				m, err := w.send(cmd.Context(), args[0], text, reply)
				if err == nil {
					fmt.Fprintln(a.stdout, m.ID)
				}
				return err
			})
		},
	}
	cmd.Flags().StringVar(&reply, "reply", "", "id (or unique prefix) of the message to reply to")
	return cmd
}

func (a *app) reactCmd() *cobra.Command {
	var remove bool
	cmd := &cobra.Command{
		Use:   "react GROUP ID EMOJI",
		Short: "Add an emoji reaction to a message (--remove takes it back)",
		Args:  cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.write(cmd.Context(), func(w writer) error {
				return w.react(cmd.Context(), args[0], args[1], args[2], remove)
			})
		},
	}
	cmd.Flags().BoolVar(&remove, "remove", false, "take the reaction back")
	return cmd
}

func (a *app) editCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "edit GROUP ID TEXT...",
		Short: "Replace the text of one of your messages (the edit history is kept)",
		Args:  cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.write(cmd.Context(), func(w writer) error {
				return w.edit(cmd.Context(), args[0], args[1], joinArgs(args[2:]))
			})
		},
	}
}

func (a *app) deleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete GROUP ID",
		Short: "Delete a message (yours, or anyone's as an admin): its text is erased on every node",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.write(cmd.Context(), func(w writer) error {
				return w.del(cmd.Context(), args[0], args[1])
			})
		},
	}
}

// richText is a message's text with its quote, edited mark and reactions.
func richText(m node.Message) string {
	if m.Deleted {
		return "message deleted"
	}
	var b strings.Builder
	if q := m.Quote; q != nil {
		if q.Deleted {
			b.WriteString("[↳ message deleted] ")
		} else {
			name := q.AuthorName
			if name == "" {
				name = shortID(q.Author)
			}
			fmt.Fprintf(&b, "[↳ %s: %s] ", termtext.OneLine(name), clip(q.Excerpt, 40))
		}
	} else if m.ReplyTo != "" {
		fmt.Fprintf(&b, "[↳ %s] ", m.ReplyTo[:8])
	}
	b.WriteString(messageText(m))
	if m.Edited {
		b.WriteString(" (edited)")
	}
	rs := append([]node.Reaction(nil), m.Reactions...)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Count > rs[j].Count })
	for i, r := range rs {
		if i == 0 {
			b.WriteString("  ")
		} else {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s %d", termtext.OneLine(r.Emoji), r.Count)
	}
	return b.String()
}
