package cli

// Membership commands: members with roles, removing, leaving, roles,
// invites with limits, group and display names. They all go through the
// running node's API.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// memberHint adds advice to the node's membership errors.
func memberHint(err error, group string) error {
	g := termtext.OneLine(group)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, node.ErrAmbiguousMember):
		return fmt.Errorf("%w (name several members share: use the safety number or a peer id prefix from `parley group members %s`)", err, g)
	case errors.Is(err, node.ErrNoSuchMember):
		return fmt.Errorf("%w (see `parley group members %s`)", err, g)
	case errors.Is(err, node.ErrNotAuthorized):
		return fmt.Errorf("%w (only the group's owner and admins can do that)", err)
	case errors.Is(err, node.ErrLegacyGroup):
		return fmt.Errorf("%w (the group was made before member roles: create a new group to manage members)", err)
	}
	return err
}

// durationValue is a flag taking Go durations plus whole days ("7d").
type durationValue struct{ d *time.Duration }

func (v durationValue) String() string {
	if v.d == nil || *v.d == 0 {
		return ""
	}
	return v.d.String()
}
func (v durationValue) Type() string { return "duration" }
func (v durationValue) Set(s string) error {
	d, err := chatcmd.ParseDuration(s)
	if err != nil {
		return err
	}
	*v.d = d
	return nil
}

func (a *app) inviteCmd() *cobra.Command {
	var (
		expires time.Duration
		uses    int
	)
	cmd := &cobra.Command{
		Use:   "invite GROUP",
		Short: "Print an invite code for a group (it grants read access: share it privately)",
		Long: `Print an invite code for a group. It grants access to the group: share it
privately. With --expires or --uses the invite is limited and can be listed
(parley group invites) and revoked (parley group revoke); its id and limits
are printed on standard error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if uses < 0 {
				return &usageError{cmd: cmd, err: errors.New("--uses must not be negative")}
			}
			limited := cmd.Flags().Changed("expires") || cmd.Flags().Changed("uses")
			return a.call(func(c *api.Client) error {
				if !limited {
					code, err := c.Invite(cmd.Context(), args[0])
					if err != nil {
						return memberHint(err, args[0])
					}
					fmt.Fprintln(a.stdout, code)
					return nil
				}
				code, inv, err := c.CreateInvite(cmd.Context(), args[0], expires, uses)
				if err != nil {
					return memberHint(err, args[0])
				}
				fmt.Fprintln(a.stdout, code)
				fmt.Fprintf(a.stderr, "invite %s: expires %s, uses %s\n", termtext.OneLine(inv.ID), inviteTime(inv.Expires), inviteUses(inv))
				return nil
			})
		},
	}
	cmd.Flags().Var(durationValue{&expires}, "expires", "the invite expires after this long, e.g. 24h or 3d (default 7 days)")
	cmd.Flags().IntVar(&uses, "uses", 0, "the invite works this many times (default unlimited)")
	return cmd
}

func inviteTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func inviteUses(i api.Invite) string {
	if i.MaxUses == 0 {
		return strconv.Itoa(i.Uses) + "/unlimited"
	}
	return fmt.Sprintf("%d/%d", i.Uses, i.MaxUses)
}

func (a *app) membersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "members GROUP",
		Short: "List a group's members: name, role, safety number, peer id",
		Long: `List a group's members, one a line: name, role, safety number and peer id.
Compare safety numbers with the other person in person or on a call to be
sure you talk to them. Without a running node it reads the store (no roles).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.read(cmd.Context(), func(r reader) error {
				ms, err := r.MemberList(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					for i := range ms { // JSON escapes controls; keep names printable anyway
						ms[i].Name = termtext.OneLine(ms[i].Name)
					}
					if ms == nil {
						ms = []api.Member{}
					}
					return a.printJSON(ms)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				for _, m := range ms {
					self := ""
					if m.Self {
						self = "(you)"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", orDash(termtext.OneLine(m.Name)), orDash(termtext.OneLine(m.Role)),
						orDash(termtext.OneLine(m.SafetyNumber)), termtext.OneLine(m.PeerID), self)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

// addMembershipCmds adds remove, leave, promote, demote, invites, revoke
// and rename to the group command.
func (a *app) addMembershipCmds(group *cobra.Command) {
	memberCmd := func(use, short, done string, fn func(c *api.Client, cmd *cobra.Command, g, m string) error) *cobra.Command {
		return &cobra.Command{
			Use:   use + " GROUP MEMBER",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.call(func(c *api.Client) error {
					if err := fn(c, cmd, args[0], args[1]); err != nil {
						return memberHint(err, args[0])
					}
					fmt.Fprintf(a.stdout, done+"\n", termtext.OneLine(args[1]), termtext.OneLine(args[0]))
					return nil
				})
			},
		}
	}
	remove := memberCmd("remove", "Remove a member (name, safety number or peer id prefix); the group gets a new key",
		"removed %s from %s", func(c *api.Client, cmd *cobra.Command, g, m string) error { return c.RemoveMember(cmd.Context(), g, m) })
	promote := memberCmd("promote", "Make a member an admin (admins can invite and remove members)",
		"%s is now an admin of %s", func(c *api.Client, cmd *cobra.Command, g, m string) error { return c.Promote(cmd.Context(), g, m) })
	demote := memberCmd("demote", "Make an admin a plain member again",
		"%s is now a member of %s", func(c *api.Client, cmd *cobra.Command, g, m string) error { return c.Demote(cmd.Context(), g, m) })

	leave := &cobra.Command{
		Use:   "leave GROUP",
		Short: "Leave a group (the others are told; you stop receiving its messages)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				if err := c.Leave(cmd.Context(), args[0]); err != nil {
					return memberHint(err, args[0])
				}
				fmt.Fprintf(a.stdout, "left %s\n", termtext.OneLine(args[0]))
				return nil
			})
		},
	}

	var invitesJSON bool
	invites := &cobra.Command{
		Use:   "invites GROUP",
		Short: "List a group's limited invites: id, created, expires, uses/max, revoked",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				is, err := c.Invites(cmd.Context(), args[0])
				if err != nil {
					return memberHint(err, args[0])
				}
				if invitesJSON {
					if is == nil {
						is = []api.Invite{}
					}
					for i := range is {
						is[i].ID, is[i].Creator = termtext.OneLine(is[i].ID), termtext.OneLine(is[i].Creator)
					}
					return a.printJSON(is)
				}
				if len(is) == 0 {
					fmt.Fprintln(a.stderr, "no invites: `parley group invite GROUP --expires 24h --uses 1` makes one")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tCREATED\tEXPIRES\tUSES\tREVOKED")
				for _, i := range is {
					revoked := "no"
					if i.Revoked {
						revoked = "yes"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", termtext.OneLine(i.ID), inviteTime(i.Created), inviteTime(i.Expires), inviteUses(i), revoked)
				}
				return tw.Flush()
			})
		},
	}
	invites.Flags().BoolVar(&invitesJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke GROUP INVITE",
		Short: "Revoke an invite by id (see `parley group invites GROUP`)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				if err := c.RevokeInvite(cmd.Context(), args[0], args[1]); err != nil {
					return memberHint(err, args[0])
				}
				fmt.Fprintf(a.stdout, "revoked invite %s\n", termtext.OneLine(args[1]))
				return nil
			})
		},
	}

	rename := &cobra.Command{
		Use:   "rename GROUP NEWNAME",
		Short: "Rename a group for every member",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := joinArgs(args[1:])
			return a.call(func(c *api.Client) error {
				if err := c.RenameGroup(cmd.Context(), args[0], name); err != nil {
					return memberHint(err, args[0])
				}
				fmt.Fprintf(a.stdout, "renamed %s to %s\n", termtext.OneLine(args[0]), termtext.OneLine(name))
				return nil
			})
		},
	}
	group.AddCommand(remove, leave, promote, demote, invites, revoke, rename)
}

func (a *app) nameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "name NEWNAME",
		Short: "Change your display name (a signed update sent to every group)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := strings.TrimSpace(joinArgs(args))
			if name == "" {
				return &usageError{cmd: cmd, err: errors.New("the name must not be empty")}
			}
			return a.call(func(c *api.Client) error {
				if err := c.SetDisplayName(cmd.Context(), name); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "display name is now %s\n", termtext.OneLine(name))
				return nil
			})
		},
	}
}
