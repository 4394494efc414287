package node

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/searchterms"
	"github.com/parley-chat/parley/store"
)

// Full-text search over the local history of every group. The terms are
// written with each message (envelope.StoreMessage); docs/search.md says
// what matches.

// ErrMessageNotHeld: HistoryAround was asked for a message this node does
// not hold.
var ErrMessageNotHeld = errors.New("message not held")

// Search limits.
const (
	DefaultSearchLimit = 20
	MaxSearchLimit     = 1000
	// backfillStep is how many old messages one backfill transaction indexes.
	backfillStep = 500
)

// SearchOptions narrows a search.
type SearchOptions struct {
	Group string `json:"group,omitempty"` // id, id prefix or name; empty: every group
	Limit int    `json:"limit,omitempty"` // 0: DefaultSearchLimit
}

// SearchResult is one message that has every word of the query (in its text
// or in one of its edits), newest first.
type SearchResult struct {
	Message   Message `json:"message"`
	GroupID   string  `json:"group_id"`
	GroupName string  `json:"group_name"`
	// Cursor opens the history around the message: HistoryAround(group,
	// Message.ID, n), or History(group, Cursor, n) for what precedes it.
	Cursor string `json:"cursor"`
}

// SearchTerms is how a query is split into the words that must all match:
// the same folding the index applies to texts.
func SearchTerms(query string) []string { return searchterms.Tokenize(query) }

// Search finds the held messages that contain every word of query, newest
// first. Words under 2 bytes are ignored; a query with no other word is
// refused.
func (l *Local) Search(query string, o SearchOptions) ([]SearchResult, error) {
	terms := searchterms.Tokenize(query)
	if len(terms) == 0 {
		return nil, fmt.Errorf("%w: no word to search for in %q", ErrInvalidInput, query)
	}
	limit := o.Limit
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	if limit < 0 || limit > MaxSearchLimit {
		return nil, fmt.Errorf("%w: limit must be 1..%d", ErrInvalidInput, MaxSearchLimit)
	}
	var only *store.GroupID
	if o.Group != "" {
		g, err := l.resolve(o.Group)
		if err != nil {
			return nil, err
		}
		only = &g.ID
	}
	if err := l.backfillSearch(context.Background()); err != nil {
		return nil, err
	}
	groups, err := l.st.Groups()
	if err != nil {
		return nil, err
	}
	gnames := make(map[store.GroupID]string, len(groups))
	for _, g := range groups {
		gnames[g.ID] = g.Name
	}
	names := map[store.GroupID]map[peer.ID]string{}
	var out []SearchResult
	err = l.st.Search(terms, only, func(h store.SearchHit) bool {
		if _, ok := gnames[h.Group]; !ok {
			return true // a group since left
		}
		if names[h.Group] == nil {
			names[h.Group] = l.memberNames(h.Group)
		}
		m, ok := l.searchMessage(h, names[h.Group])
		if !ok {
			return true
		}
		out = append(out, SearchResult{Message: m, GroupID: m.Group, GroupName: gnames[h.Group], Cursor: m.Cursor})
		return len(out) < limit
	})
	return out, err
}

// searchMessage is a hit as shown, or false when it must not be: an erased
// body (it no longer decodes), or an edit by someone other than the author.
func (l *Local) searchMessage(h store.SearchHit, names map[peer.ID]string) (Message, bool) {
	v, err := envelope.DecodeSigned(h.Shown.Raw)
	if err != nil {
		return Message{}, false
	}
	if h.Version != h.Shown.ID {
		st, err := l.st.Get(h.Group, h.Version)
		if err != nil {
			return Message{}, false
		}
		e, err := envelope.DecodeSigned(st.Raw)
		if err != nil || e.Author != v.Author {
			return Message{}, false
		}
	}
	m := toMessage(h.Group, v)
	m.AuthorName = names[v.Author]
	return m, true
}

// HistoryAround returns message id of group ref with up to n messages
// before and n after it, oldest first: the context a search result opens.
func (l *Local) HistoryAround(ref, id string, n int) ([]Message, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > 5000 {
		return nil, fmt.Errorf("%w: n must be 0..5000", ErrInvalidInput)
	}
	raw, err := hex.DecodeString(strings.TrimSpace(id))
	if err != nil || len(raw) != store.MessageIDLen {
		return nil, fmt.Errorf("%w: message id %q", ErrInvalidInput, id)
	}
	var mid store.MessageID
	copy(mid[:], raw)
	lam, ok, err := l.st.Lamport(g.ID, mid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: message %s in %q", ErrMessageNotHeld, id, ref)
	}
	cur := store.Cursor{Lamport: lam, ID: mid}
	stored, err := l.st.History(g.ID, &cur, n)
	if err != nil {
		return nil, err
	}
	self, err := l.st.GetAt(g.ID, lam, mid)
	if err != nil {
		return nil, err
	}
	stored = append(stored, self)
	err = l.st.After(g.ID, &cur, func(s store.Stored) bool {
		if len(stored) >= 2*n+1 {
			return false
		}
		stored = append(stored, s)
		return true
	})
	if err != nil {
		return nil, err
	}
	names := l.memberNames(g.ID)
	out := make([]Message, 0, len(stored))
	for _, s := range stored {
		m, err := decodeStored(g.ID, s, names)
		if err != nil {
			continue // an erased body
		}
		out = append(out, m)
	}
	return out, nil
}

// backfillSearch indexes the messages stored before the search index
// existed (store schemas 3 and 4), then those stored with their indexing
// deferred (indexlater.go), in steps that each commit their progress, until
// none is left or ctx ends. A node runs it in the background from Start;
// Search runs it first, so results are complete.
func (l *Local) backfillSearch(ctx context.Context) error {
	l.searchMu.Lock()
	defer l.searchMu.Unlock()
	for _, step := range []func() (bool, error){
		func() (bool, error) { return l.st.Backfill(backfillStep, indexEntryOf) },
		func() (bool, error) { return l.st.IndexDeferred(indexLaterStep, indexEntryOf) },
	} {
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			done, err := step()
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	return nil
}

// unindexMessage removes message id's words from the search index, with
// those of its held edits: a delete calls it before it erases the bodies,
// so no word of a deleted message stays in the store's files. text is the
// message's text when the caller has it; "" reads the stored body.
// indexedTerms are the search terms of a held message's body (none if it
// is not held or already erased).
func (l *Local) indexedTerms(g store.GroupID, id store.MessageID) []string {
	st, err := l.st.Get(g, id)
	if err != nil || st.Erased {
		return nil
	}
	v, err := envelope.DecodeSigned(st.Raw)
	if err != nil {
		return nil
	}
	terms, _ := searchterms.ForBody(v.Msg.Body)
	return terms
}

func (l *Local) unindexMessage(g store.GroupID, id store.MessageID, text string) error {
	terms := searchterms.Tokenize(text)
	if text == "" {
		if st, err := l.st.Get(g, id); err == nil {
			if v, err := envelope.DecodeSigned(st.Raw); err == nil {
				terms, _ = searchterms.ForBody(v.Msg.Body)
			}
		}
	}
	if err := l.st.Unindex(g, id, terms); err != nil {
		return err
	}
	var edits []store.Stored
	if err := l.st.Related(g, id, func(s store.Stored) bool { edits = append(edits, s); return true }); err != nil {
		return err
	}
	for _, s := range edits {
		v, err := envelope.DecodeSigned(s.Raw)
		if err != nil {
			continue
		}
		if terms, of := searchterms.ForBody(v.Msg.Body); of == id {
			if err := l.st.Unindex(g, s.ID, terms); err != nil {
				return err
			}
		}
	}
	return nil
}
