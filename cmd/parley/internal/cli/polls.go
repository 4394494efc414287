package cli

// Poll commands (docs/polls.md): create, vote, close, show. With a running
// node they go through its API; without one, show reads the store and the
// changes run a short-lived node on the profile (stored now, delivered by
// sync when a node runs again).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/cmd/parley/internal/api"
	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

func (a *app) pollCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "poll",
		Short: "Create polls, vote, close them and show the tally",
		Long: `Polls: a question with 2 to 10 options, single or multiple choice, named or
anonymous (members see counts only). POLL is the id "poll create" printed, or
a unique prefix of at least 8 hex digits. Options are numbered from 1.`,
	}
	cmd.AddCommand(a.pollCreateCmd(), a.pollVoteCmd(), a.pollCloseCmd(), a.pollShowCmd())
	return cmd
}

// pollWriter is what the changing commands need: the API client or a node.
type pollWriter interface {
	createPoll(ctx context.Context, group, q string, opts []string, multi, anon bool) (node.Message, error)
	vote(ctx context.Context, group, poll string, choices []int) error
	closePoll(ctx context.Context, group, poll string) error
	poll(group, poll string) (node.PollInfo, error)
}

type apiPolls struct{ c *api.Client }

func (w apiPolls) createPoll(ctx context.Context, g, q string, o []string, m, an bool) (node.Message, error) {
	return w.c.CreatePoll(ctx, g, q, o, m, an)
}
func (w apiPolls) vote(ctx context.Context, g, p string, cs []int) error {
	_, err := w.c.Vote(ctx, g, p, cs)
	return err
}
func (w apiPolls) closePoll(ctx context.Context, g, p string) error {
	_, err := w.c.ClosePoll(ctx, g, p)
	return err
}
func (w apiPolls) poll(g, p string) (node.PollInfo, error) {
	return w.c.Poll(context.Background(), g, p)
}

type nodePolls struct{ n *node.Node }

func (w nodePolls) createPoll(ctx context.Context, g, q string, o []string, m, an bool) (node.Message, error) {
	return w.n.CreatePoll(ctx, g, q, o, m, an)
}
func (w nodePolls) vote(ctx context.Context, g, p string, cs []int) error {
	return w.n.Vote(ctx, g, p, cs)
}
func (w nodePolls) closePoll(ctx context.Context, g, p string) error { return w.n.ClosePoll(ctx, g, p) }
func (w nodePolls) poll(g, p string) (node.PollInfo, error)          { return w.n.Poll(g, p) }

// pollWrite runs fn against the running node, or, when none runs, against
// a node started on the profile for the command (loopback only, no mDNS).
func (a *app) pollWrite(ctx context.Context, fn func(w pollWriter) error) error {
	c, err := a.client()
	if err == nil {
		err = fn(apiPolls{c})
	}
	if !errors.Is(err, api.ErrNotRunning) {
		return err
	}
	return a.withLocalNode(ctx, func(n *node.Node) error { return fn(nodePolls{n}) })
}

func (a *app) pollCreateCmd() *cobra.Command {
	var multi, anon bool
	cmd := &cobra.Command{
		Use:   "create GROUP QUESTION OPTION OPTION...",
		Short: "Open a poll and print its id",
		Args:  cobra.RangeArgs(4, 2+node.MaxPollOptions),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pollWrite(cmd.Context(), func(w pollWriter) error {
				m, err := w.createPoll(cmd.Context(), args[0], args[1], args[2:], multi, anon)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, m.ID)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&multi, "multi", false, "members may choose several options")
	cmd.Flags().BoolVar(&anon, "anonymous", false, "show counts only, never who voted what")
	return cmd
}

// parseChoices turns 1-based option numbers into 0-based choices.
func parseChoices(args []string) ([]int, error) {
	out := make([]int, 0, len(args))
	for _, s := range args {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < 1 || v > node.MaxPollOptions {
			return nil, fmt.Errorf("%w: option %q: options are numbered 1 to %d", node.ErrInvalidInput, s, node.MaxPollOptions)
		}
		out = append(out, v-1)
	}
	return out, nil
}

func (a *app) pollVoteCmd() *cobra.Command {
	var withdraw bool
	cmd := &cobra.Command{
		Use:   "vote GROUP POLL N...",
		Short: "Vote for options N (numbered from 1); voting again replaces your vote",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 && !withdraw {
				return &usageError{cmd: cmd, err: errors.New("give the option numbers to vote for (or --withdraw)")}
			}
			if len(args) > 2 && withdraw {
				return &usageError{cmd: cmd, err: errors.New("--withdraw takes no option numbers")}
			}
			choices, err := parseChoices(args[2:])
			if err != nil {
				return err
			}
			return a.pollWrite(cmd.Context(), func(w pollWriter) error {
				if err := w.vote(cmd.Context(), args[0], args[1], choices); err != nil {
					return err
				}
				p, err := w.poll(args[0], args[1])
				if err == nil {
					fmt.Fprintf(a.stderr, "voted in %q\n", termtext.OneLine(p.Question))
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&withdraw, "withdraw", false, "take your vote back")
	return cmd
}

func (a *app) pollCloseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "close GROUP POLL",
		Short: "Close a poll (its creator or an admin): later votes do not count",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.pollWrite(cmd.Context(), func(w pollWriter) error {
				return memberHint(w.closePoll(cmd.Context(), args[0], args[1]), args[0])
			})
		},
	}
}

func (a *app) pollShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show GROUP POLL",
		Short: "Show a poll: options with counts, closed or open",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.read(cmd.Context(), func(r reader) error {
				var p node.PollInfo
				var err error
				switch r := r.(type) {
				case *api.Client:
					p, err = r.Poll(cmd.Context(), args[0], args[1])
				case localReader:
					p, err = r.l.Poll(args[0], args[1])
				default:
					err = errors.New("polls: unknown reader")
				}
				if err != nil {
					return err
				}
				if asJSON {
					return a.printJSON(p)
				}
				fmt.Fprintln(a.stdout, "poll "+p.ID)
				for _, l := range chatcmd.PollLines(p, 0, 20) {
					fmt.Fprintln(a.stdout, l)
				}
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
