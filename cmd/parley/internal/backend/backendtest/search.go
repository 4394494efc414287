package backendtest

import (
	"strings"
	"time"

	"github.com/parley-chat/parley/node"
)

// SearchGroup is the group of the fake's search results.
const SearchGroup = "0123456789abcdef0123456789abcdef"

// Search returns one result per word of query (message ids "m1", "m2"...)
// and records "search QUERY GROUP LIMIT".
func (f *Fake) Search(query string, o node.SearchOptions) ([]node.SearchResult, error) {
	if err := f.call("search %s %s %d", query, o.Group, o.Limit); err != nil {
		return nil, err
	}
	var out []node.SearchResult
	for i, w := range strings.Fields(query) {
		m := node.Message{ID: "m" + string(rune('1'+i)), Group: SearchGroup, Author: SelfID, AuthorName: "alice",
			Kind: "text", Text: "found " + w, Time: time.Date(2026, 3, 1, 10, i, 0, 0, time.UTC), Cursor: "1-m"}
		out = append(out, node.SearchResult{Message: m, GroupID: SearchGroup, GroupName: "Team", Cursor: m.Cursor})
	}
	return out, nil
}

// HistoryAround returns the message id alone and records "around GROUP ID N".
func (f *Fake) HistoryAround(ref, id string, n int) ([]node.Message, error) {
	if err := f.call("around %s %s %d", ref, id, n); err != nil {
		return nil, err
	}
	return []node.Message{{ID: id, Group: SearchGroup, Kind: "text", Text: "found it"}}, nil
}
