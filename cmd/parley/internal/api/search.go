package api

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/parley-chat/parley/node"
)

// routeSearch adds the search endpoints.
func (s *Server) routeSearch() {
	s.mux.HandleFunc("GET /v1/search", s.search)
	s.mux.HandleFunc("GET /v1/groups/{ref}/messages/{id}/around", s.around)
}

// queryInt reads an optional integer query parameter.
func queryInt(r *http.Request, name string, def int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s %q", node.ErrInvalidInput, name, v)
	}
	return n, nil
}

// search: GET /v1/search?q=WORDS[&group=G][&limit=N], newest first.
func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	limit, err := queryInt(r, "limit", node.DefaultSearchLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	res, err := s.b.Search(r.URL.Query().Get("q"), node.SearchOptions{Group: r.URL.Query().Get("group"), Limit: limit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if res == nil {
		res = []node.SearchResult{}
	}
	writeJSON(w, http.StatusOK, res)
}

// DefaultAround is how many messages before and after a search result the
// around endpoint returns without n.
const DefaultAround = 10

// around: GET /v1/groups/{ref}/messages/{id}/around[?n=N]: the message
// with up to N before and after it, oldest first.
func (s *Server) around(w http.ResponseWriter, r *http.Request) {
	n, err := queryInt(r, "n", DefaultAround)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ms, err := s.b.HistoryAround(r.PathValue("ref"), r.PathValue("id"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ms == nil {
		ms = []node.Message{}
	}
	writeJSON(w, http.StatusOK, ms)
}

// Search finds messages with every word of query, newest first.
func (c *Client) Search(ctx context.Context, query string, o node.SearchOptions) ([]node.SearchResult, error) {
	q := url.Values{}
	q.Set("q", query)
	if o.Group != "" {
		q.Set("group", o.Group)
	}
	if o.Limit != 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	var res []node.SearchResult
	return res, c.do(ctx, http.MethodGet, "/v1/search?"+q.Encode(), nil, &res)
}

// HistoryAround returns message id of group with up to n messages before
// and after it.
func (c *Client) HistoryAround(ctx context.Context, group, id string, n int) ([]node.Message, error) {
	var ms []node.Message
	return ms, c.do(ctx, http.MethodGet,
		"/v1/groups/"+ref(group)+"/messages/"+ref(id)+"/around?n="+strconv.Itoa(n), nil, &ms)
}
