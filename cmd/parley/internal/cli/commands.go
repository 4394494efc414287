package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) groupCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "Create, invite to, join and inspect groups",
	}
	var fromJoin bool
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a group and print its id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				g, err := c.CreateGroup(cmd.Context(), args[0], fromJoin)
				if err != nil {
					return err
				}
				if t := node.NameTakenNotice(g); t != "" {
					fmt.Fprintln(a.stderr, termtext.Sanitize(t))
				}
				fmt.Fprintln(a.stdout, g.ID)
				return nil
			})
		},
	}
	create.Flags().BoolVar(&fromJoin, "from-join", false, "new members see history only from when they joined")

	join := &cobra.Command{
		Use:   "join CODE",
		Short: "Join a group with an invite code",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				g, err := c.Join(cmd.Context(), strings.Join(args, ""))
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "joined %s (%s)\n", termtext.OneLine(g.Name), g.ID)
				return nil
			})
		},
	}

	cmd.AddCommand(create, a.inviteCmd(), join, a.membersCmd())
	a.addMembershipCmds(cmd)
	a.addUXCmds(cmd)
	return cmd
}

func (a *app) groupsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "groups",
		Short: "List groups: name, id, members, message count, last message",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.read(cmd.Context(), func(r reader) error {
				gs, err := r.Groups(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(gs)
				}
				if len(gs) == 0 {
					fmt.Fprintln(a.stderr, "no groups yet: `parley group create NAME` or `parley group join CODE`")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tID\tMEMBERS\tMESSAGES\tUNREAD\tLAST")
				for _, g := range gs {
					last := "-"
					if g.Last != nil {
						last = fmt.Sprintf("%s %s: %s", g.Last.Time.Local().Format("2006-01-02 15:04"), authorName(*g.Last), clip(messageText(*g.Last), 40))
					}
					fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", termtext.OneLine(g.Name), g.ID, g.Members, g.Messages, unreadCell(g), last)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) historyCmd() *cobra.Command {
	var (
		limit  int
		before string
		asJSON bool
		x      historyOpts // --all, --around (housekeeping.go)
	)
	cmd := &cobra.Command{
		Use:   "history GROUP",
		Short: "Print a group's messages, oldest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.read(cmd.Context(), func(r reader) error {
				ms, err := x.read(cmd.Context(), r, args[0], before, limit) // housekeeping.go
				if err != nil {
					return err
				}
				if asJSON {
					if ms == nil {
						ms = []node.Message{}
					}
					return a.printJSON(ms)
				}
				for _, m := range ms {
					fmt.Fprintln(a.stdout, formatLine(m, "2006-01-02 15:04", ""))
				}
				if len(ms) == limit && len(ms) > 0 && x.paged() {
					fmt.Fprintf(a.stderr, "(older messages: --before %s)\n", ms[0].Cursor)
				}
				return nil
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", api.DefaultHistoryLimit, "number of messages")
	cmd.Flags().StringVar(&before, "before", "", "show messages before this cursor (from a previous page)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	x.register(cmd)
	return cmd
}

func (a *app) tailCmd() *cobra.Command {
	var since string
	cmd := &cobra.Command{
		Use:   "tail GROUP",
		Short: "Follow a group's new messages (Ctrl-C to stop)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.call(func(c *api.Client) error {
				backlog, seen, err := a.tailSince(cmd.Context(), c, args[0], since) // housekeeping.go
				if err != nil {
					return err
				}
				ready := func() {
					fmt.Fprintf(a.stderr, "(following %s; Ctrl-C to stop)\n", args[0])
					backlog()
				}
				return c.Events(cmd.Context(), args[0], ready, func(ev node.Event) error {
					if ev.Type == node.EventMessage && ev.Message != nil && !seen(ev.Message.ID) {
						fmt.Fprintln(a.stdout, formatLine(*ev.Message, "15:04", ""))
					}
					return nil
				})
			})
		},
	}
	cmd.Flags().StringVar(&since, "since", "", "first print the messages since DURATION ago (10m, 2h, 3d) or TIME (RFC 3339, 2006-01-02 15:04, 15:04)")
	return cmd
}

func (a *app) peersCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "List connected peers: id, how found, latency, addresses, sync progress",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(func(c *api.Client) error {
				ps, err := c.Peers(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(ps)
				}
				if len(ps) == 0 {
					fmt.Fprintln(a.stderr, "no peers connected")
					return nil
				}
				tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PEER\tVIA\tPATH\tLATENCY\tSYNC\tADDRS")
				for _, p := range ps {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Via, p.Path, latency(p.LatencyMs), syncSummary(p.Sync), termtext.OneLine(strings.Join(p.Addrs, " ")))
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func (a *app) statusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the running node's peer id, addresses, peers and drop counters",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.call(func(c *api.Client) error {
				s, err := c.Status(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(s)
				}
				fmt.Fprintf(a.stdout, "peer id:  %s\n", s.ID)
				fmt.Fprintf(a.stdout, "profile:  %s\n", a.profileName)
				fmt.Fprintln(a.stdout, storeState(s.Encrypted))
				if line := diskLine(s.Disk); line != "" {
					fmt.Fprintln(a.stdout, line)
				}
				fmt.Fprintln(a.stdout, "addresses:")
				for _, ad := range s.Addrs {
					fmt.Fprintf(a.stdout, "  %s\n", ad)
				}
				fmt.Fprintf(a.stdout, "reachability: %s (DHT peers: %d)\n", s.Reachability, s.DHTPeers)
				fmt.Fprintf(a.stdout, "peers:    %d\n", s.Peers)
				fmt.Fprintf(a.stdout, "groups:   %d\n", s.Groups)
				fmt.Fprintf(a.stdout, "sync:     %s\n", syncSummary(s.Sync))
				fmt.Fprintf(a.stdout, "drops:    %s\n", drops(s.Drops))
				if q := s.QueueDrops; q.OutboundRPCs+q.Validation+q.Subscription > 0 {
					fmt.Fprintf(a.stdout, "gossip queue drops: outbound %d, validation %d, subscription %d (sync recovers them)\n", q.OutboundRPCs, q.Validation, q.Subscription)
				}
				if s.EventsDropped > 0 {
					fmt.Fprintf(a.stdout, "events dropped (slow subscribers): %d\n", s.EventsDropped)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
