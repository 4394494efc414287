package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/store"
)

// addUXCmds adds `group mute` and `group unmute`.
func (a *app) addUXCmds(group *cobra.Command) {
	mute := func(use, short string, on bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " GROUP",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var name string
				err := a.change(cmd.Context(), func(c *api.Client) error {
					gi, err := c.SetMuted(cmd.Context(), args[0], on)
					name = gi.Name
					return err
				}, func(l *node.Local) error {
					if err := l.SetMuted(args[0], on); err != nil {
						return err
					}
					gi, err := l.Group(args[0])
					name = gi.Name
					return err
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%sd %s\n", use, termtext.OneLine(name))
				return nil
			},
		}
	}
	group.AddCommand(
		mute("mute", "Mute a group: unread messages are still counted, quietly", true),
		mute("unmute", "Unmute a group", false))
}

// configCmd holds profile settings: `parley config read-receipts on|off`.
func (a *app) configCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Show or change profile settings"}
	var asJSON bool
	rr := &cobra.Command{
		Use:   "read-receipts [on|off]",
		Short: "Tell groups what you have read (\"read by N\" on others' messages); default off",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var on bool
			var err error
			if len(args) == 0 {
				err = a.change(cmd.Context(), func(c *api.Client) error {
					on, err = c.ReadReceipts(cmd.Context())
					return err
				}, func(l *node.Local) error { on = l.ReadReceipts(); return nil })
			} else {
				switch strings.ToLower(args[0]) {
				case "on":
					on = true
				case "off":
				default:
					return fmt.Errorf("%w: read-receipts is on or off, not %q", node.ErrInvalidInput, args[0])
				}
				err = a.change(cmd.Context(), func(c *api.Client) error { return c.SetReadReceipts(cmd.Context(), on) },
					func(l *node.Local) error { return l.SetReadReceipts(on) })
			}
			if err != nil {
				return err
			}
			if asJSON {
				return a.printJSON(api.ReadReceiptsSetting{On: on})
			}
			fmt.Fprintf(a.stdout, "read-receipts %s\n", map[bool]string{true: "on", false: "off"}[on])
			return nil
		},
	}
	rr.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(rr)
	return cmd
}

// change runs viaAPI against the running node, or, when none runs, local
// against the profile's store (local state needs no network).
func (a *app) change(ctx context.Context, viaAPI func(c *api.Client) error, local func(l *node.Local) error) error {
	c, err := a.client()
	if err == nil {
		err = viaAPI(c)
	}
	if !errors.Is(err, api.ErrNotRunning) {
		return err
	}
	p, err := a.profile()
	if err != nil {
		return err
	}
	sopts, err := a.storeOptions(p)
	if err != nil {
		return err
	}
	st, err := p.OpenStore(append(sopts, store.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		return storeError(err, p)
	}
	defer st.Close()
	id, err := node.EnsureIdentity(st, "")
	if err != nil {
		return err
	}
	return local(node.NewLocal(st, id.ID))
}

// unreadCell is the UNREAD column of `parley groups`.
func unreadCell(g node.GroupInfo) string {
	s := "-"
	if g.Unread > 0 {
		s = fmt.Sprint(g.Unread)
		if g.Unread >= node.MaxUnreadCount {
			s += "+"
		}
		if g.Mentions > 0 {
			s += fmt.Sprintf(" (%d @you)", g.Mentions)
		}
	}
	if g.Muted {
		s += " muted"
	}
	return s
}
