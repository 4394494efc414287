package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/parley-chat/parley/node"
)

// searchReader is the search part of reader: the API client and the local
// store both answer it.
type searchReader interface {
	Search(ctx context.Context, query string, o node.SearchOptions) ([]node.SearchResult, error)
	HistoryAround(ctx context.Context, group, id string, n int) ([]node.Message, error)
}

func (r localReader) Search(_ context.Context, q string, o node.SearchOptions) ([]node.SearchResult, error) {
	return r.l.Search(q, o)
}

func (r localReader) HistoryAround(_ context.Context, g, id string, n int) ([]node.Message, error) {
	return r.l.HistoryAround(g, id, n)
}

func (a *app) searchCmd() *cobra.Command {
	var (
		group  string
		limit  int
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "search WORDS...",
		Short: "Find messages with every word, in all groups (or --group), newest first",
		Long: `Find messages that contain every one of WORDS, newest first, in every group
or only in --group. Case, accents written either way and full-width letters
do not matter; words of one letter are ignored. Each result shows its group
and id: "parley history GROUP --around ID" shows it in context.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.read(cmd.Context(), func(r reader) error {
				res, err := r.Search(cmd.Context(), joinArgs(args), node.SearchOptions{Group: group, Limit: limit})
				if err != nil {
					return err
				}
				if asJSON {
					if res == nil {
						res = []node.SearchResult{}
					}
					return a.printJSON(res)
				}
				if len(res) == 0 {
					fmt.Fprintln(a.stderr, "no messages found")
					return nil
				}
				for _, s := range res {
					fmt.Fprintf(a.stdout, "%s  [%s]\n", formatLine(s.Message, "2006-01-02 15:04", s.GroupName), s.Message.ID[:min(12, len(s.Message.ID))])
				}
				if len(res) == limit {
					fmt.Fprintf(a.stderr, "(first %d results: --limit N for more)\n", limit)
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&group, "group", "", "search only this group (name or id)")
	cmd.Flags().IntVar(&limit, "limit", node.DefaultSearchLimit, "number of results")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
