package backend

import "github.com/parley-chat/parley/node"

// Searcher is the part of Backend that searches the local history and opens
// a result in context.
type Searcher interface {
	Search(query string, o node.SearchOptions) ([]node.SearchResult, error)
	HistoryAround(ref, id string, n int) ([]node.Message, error)
}
