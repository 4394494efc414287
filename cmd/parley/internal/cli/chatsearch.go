package cli

import (
	"fmt"

	"github.com/parley-chat/parley/cmd/parley/internal/chatcmd"
	"github.com/parley-chat/parley/cmd/parley/internal/termtext"
	"github.com/parley-chat/parley/node"
)

var _ chatcmd.SearchFront = (*lineFront)(nil)

// chatContext is how many messages /open prints before and after a result.
const chatContext = 3

func (f *lineFront) Search(query string) error {
	res, err := f.c.n.Search(query, node.SearchOptions{})
	if err != nil {
		return err
	}
	f.c.found = res
	if len(res) == 0 {
		f.c.printf("no messages found\n")
		return nil
	}
	for i, r := range res {
		f.c.printf("%2d. %s\n", i+1, formatLine(r.Message, "01-02 15:04", r.GroupName))
	}
	f.c.printf("/open N shows a result in its group\n")
	return nil
}

func (f *lineFront) OpenResult(n int) error {
	if n > len(f.c.found) {
		return fmt.Errorf("%w: no result %d (the last /search found %d)", node.ErrInvalidInput, n, len(f.c.found))
	}
	r := f.c.found[n-1]
	ms, err := f.c.n.HistoryAround(r.GroupID, r.Message.ID, chatContext)
	if err != nil {
		return err
	}
	f.c.current = r.GroupID
	f.c.printf("now in %s:\n", termtext.OneLine(r.GroupName))
	for _, m := range ms {
		mark := "  "
		if m.ID == r.Message.ID {
			mark = "> "
		}
		f.c.printf("%s%s\n", mark, formatLine(m, "01-02 15:04", ""))
	}
	return nil
}
