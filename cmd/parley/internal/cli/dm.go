package cli

// Direct-message commands: contacts (codes, adding, listing, blocking) and
// `parley dm`. They go through the running node's API.

import (
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

// dmCmds are the top-level direct-message commands.
func (a *app) dmCmds() []*cobra.Command {
	return []*cobra.Command{a.contactCmd(), a.contactsCmd(), a.dmCmd()}
}

// contactHint adds advice to the node's contact errors.
func contactHint(err error) error {
	switch {
	case errors.Is(err, node.ErrNoSuchContact), errors.Is(err, node.ErrAmbiguousContact):
		return fmt.Errorf("%w (see `parley contacts`: use the name, the safety number or a peer id prefix)", err)
	case errors.Is(err, node.ErrBlocked):
		return fmt.Errorf("%w (`parley contact unblock` first)", err)
	}
	return err
}

func (a *app) contactCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "contact",
		Short: "Contacts: your contact code, adding, blocking",
		Args:  cobra.NoArgs,
	}
	var noAddrs bool
	code := &cobra.Command{
		Use:   "code",
		Short: "Print your contact code (others add you with `parley contact add CODE`)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(func(c *api.Client) error {
				s, err := c.ContactCode(cmd.Context(), !noAddrs)
				if err == nil {
					fmt.Fprintln(a.stdout, s)
				}
				return err
			})
		},
	}
	code.Flags().BoolVar(&noAddrs, "no-addrs", false, "leave your current addresses out (shorter; found by discovery instead)")
	var name, group string
	add := &cobra.Command{
		Use:   "add CODE|MEMBER",
		Short: "Add a contact from a contact code, or a member of a group (--group)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := api.ContactRequest{Code: args[0], Name: name}
			if group != "" {
				req = api.ContactRequest{Group: group, Member: args[0], Name: name}
			}
			return a.call(func(c *api.Client) error {
				ct, err := c.AddContact(cmd.Context(), req)
				if err != nil {
					return memberHint(err, group)
				}
				fmt.Fprintf(a.stdout, "added %s (%s, safety number %s)\n", termtext.OneLine(ct.Name), ct.PeerID, ct.SafetyNumber)
				return nil
			})
		},
	}
	add.Flags().StringVar(&name, "name", "", "name to keep the contact under")
	add.Flags().StringVar(&group, "group", "", "add MEMBER (name, safety number or peer id prefix) of this group")
	block := func(use string, blocked bool) *cobra.Command {
		return &cobra.Command{
			Use:   use + " CONTACT",
			Short: map[bool]string{true: "Block a contact: its offers and messages are refused, nothing is sent to it", false: "Unblock a contact"}[blocked],
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.call(func(c *api.Client) error {
					ct, err := c.BlockContact(cmd.Context(), args[0], blocked)
					if err != nil {
						return contactHint(err)
					}
					fmt.Fprintf(a.stdout, "%sed %s\n", use, termtext.OneLine(ct.Name))
					return nil
				})
			},
		}
	}
	cmd.AddCommand(code, add, block("block", true), block("unblock", false))
	return cmd
}

func (a *app) contactsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "contacts",
		Short: "List contacts (name, peer id, safety number, blocked, conversation)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(func(c *api.Client) error {
				cs, err := c.Contacts(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					if cs == nil {
						cs = []node.Contact{}
					}
					return a.printJSON(cs)
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tPEER ID\tSAFETY NUMBER\tBLOCKED\tDM")
				for _, ct := range cs {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\n", termtext.OneLine(ct.Name), ct.PeerID, ct.SafetyNumber, ct.Blocked, ct.DM)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) dmCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "dm CONTACT TEXT...",
		Short: "Send a direct message to a contact (name, safety number or peer id prefix); prints its id",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				m, err := c.SendDM(cmd.Context(), args[0], joinArgs(args[1:]))
				if err != nil {
					return contactHint(err)
				}
				fmt.Fprintln(a.stdout, m.ID)
				return nil
			})
		},
	}
}
