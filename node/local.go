package node

import (
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Message is one history entry as front ends see it.
type Message struct {
	ID         string    `json:"id"`
	Group      string    `json:"group"`
	Author     string    `json:"author"` // peer id
	AuthorName string    `json:"author_name,omitempty"`
	Seq        uint64    `json:"seq"`
	Lamport    uint64    `json:"lamport"`
	Time       time.Time `json:"time"`
	Kind       string    `json:"kind"` // "text", "join", "membership" (Text: the op kind) or "unsupported"
	Text       string    `json:"text"`
	Parents    []string  `json:"parents,omitempty"`
	// TimeDoubtful: Time is more than 10 minutes ahead of this device's
	// clock when the message was read (the author's clock is off); the
	// position in the history is causal and never depends on it.
	TimeDoubtful bool   `json:"time_doubtful,omitempty"`
	Cursor       string `json:"cursor"` // pass as Before to page further back

	// Files (files.go): kind "file" carries the announced file; its local
	// state is in Files.
	File *FileInfo `json:"file,omitempty"`
	// Polls (docs/polls.md): a poll message's live tally.
	Poll *PollInfo `json:"poll,omitempty"`
	// Rich messages (replies, reactions, edits, deletes, mentions: rich.go,
	// richstate.go, docs/messages.md).
	ReplyTo    string      `json:"reply_to"`
	Quote      *Quote      `json:"quote,omitempty"`
	Reactions  []Reaction  `json:"reactions"`
	Edited     bool        `json:"edited"`
	Edits      []EditEntry `json:"edits,omitempty"`
	Deleted    bool        `json:"deleted"` // Text is empty then
	Mentions   []string    `json:"mentions,omitempty"`
	MentionsMe bool        `json:"mentions_me,omitempty"`
	// ux: delivery state of my own messages (node/delivery.go).
	Delivery *Delivery `json:"delivery,omitempty"`
}

// GroupInfo summarises a group.
type GroupInfo struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Members         int       `json:"members"`
	Messages        uint64    `json:"messages"`
	Last            *Message  `json:"last,omitempty"`
	Joined          time.Time `json:"joined"`
	HistoryFromJoin bool      `json:"history_from_join"`
	// Direct messages (dm.go): Kind is "dm" for a conversation with one
	// contact (Name is then the contact's), Contact its peer id.
	Kind    string `json:"kind,omitempty"`
	Contact string `json:"contact,omitempty"`
	// ux: unread and mention counts since the read position, mute, and
	// messages known to be missing (node/unread.go, node/missing.go).
	Unread   int           `json:"unread"`
	Mentions int           `json:"mentions"`
	Muted    bool          `json:"muted,omitempty"`
	Missing  []MissingInfo `json:"missing,omitempty"`
	// RequestedName: CreateGroup's name when it was taken and Name is a
	// distinct one (NameTakenNotice); empty otherwise.
	RequestedName string `json:"requested_name,omitempty"`
}

// Local reads a profile's store without the network: what `parley history`
// and `parley groups` use when no node is running.
type Local struct {
	st   *store.Store
	self peer.ID
	uxHooks

	searchMu sync.Mutex // one search backfill at a time (search.go)

	logs  groupCache[*membership.Log]    // replayed membership logs (pollstate.go)
	names groupCache[map[peer.ID]string] // shown names (memberNames)

	pollActs pollActs // decoded poll actions (pollstate.go)
}

// NewLocal wraps an open store.
func NewLocal(st *store.Store, self peer.ID) *Local { return &Local{st: st, self: self} }

// Store returns the underlying store.
func (l *Local) Store() *store.Store { return l.st }

// resolve finds a group by full id, unique id prefix or exact name.
func (l *Local) resolve(ref string) (store.Group, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return store.Group{}, fmt.Errorf("%w: empty group name", ErrInvalidInput)
	}
	groups, err := l.st.Groups()
	if err != nil {
		return store.Group{}, err
	}
	var byName, byPrefix []store.Group
	for _, g := range groups {
		id := hex.EncodeToString(g.ID[:])
		if id == strings.ToLower(ref) {
			return g, nil
		}
		if g.Name == ref {
			byName = append(byName, g)
		} else if len(ref) >= 6 && strings.HasPrefix(id, strings.ToLower(ref)) {
			byPrefix = append(byPrefix, g)
		}
	}
	cands := byName
	if len(cands) == 0 {
		cands = byPrefix
	}
	switch len(cands) {
	case 0:
		return store.Group{}, fmt.Errorf("%w: %q", ErrGroupNotFound, ref)
	case 1:
		return cands[0], nil
	}
	ids := make([]string, len(cands))
	for i, g := range cands {
		ids[i] = hex.EncodeToString(g.ID[:])
	}
	sort.Strings(ids)
	return store.Group{}, fmt.Errorf("%w: %q matches %s; use an id", ErrAmbiguous, ref, strings.Join(ids, ", "))
}

// Groups lists groups with member count and last message.
func (l *Local) Groups() ([]GroupInfo, error) {
	groups, err := l.st.Groups()
	if err != nil {
		return nil, err
	}
	out := make([]GroupInfo, 0, len(groups))
	for _, g := range groups {
		gi, err := l.groupInfo(g)
		if err != nil {
			return nil, err
		}
		out = append(out, gi)
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Name < out[j].Name || (out[i].Name == out[j].Name && out[i].ID < out[j].ID)
	})
	return out, nil
}

// Group describes one group.
func (l *Local) Group(ref string) (GroupInfo, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return GroupInfo{}, err
	}
	return l.groupInfo(g)
}

func (l *Local) groupInfo(g store.Group) (GroupInfo, error) {
	stats, err := l.st.GroupStats(g.ID)
	if err != nil {
		return GroupInfo{}, err
	}
	members, err := l.st.Members(g.ID)
	if err != nil {
		return GroupInfo{}, err
	}
	gi := GroupInfo{ID: hex.EncodeToString(g.ID[:]), Name: g.Name, Members: l.memberCount(g.ID, len(members)), Messages: stats.Count,
		Joined: time.UnixMilli(g.JoinedMs), HistoryFromJoin: g.HistoryFromJoin}
	l.dmInfo(&gi, g.ID)
	last, err := l.visibleHistory(g.ID, nil, 1)
	if err != nil {
		return GroupInfo{}, err
	}
	if len(last) == 1 {
		gi.Last = &last[0]
	}
	return gi, l.fillUX(g, &gi)
}

// Members is one group's member list: peer id and display name.
func (l *Local) Members(ref string) ([]Member, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	ms, err := l.st.Members(g.ID)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(ms))
	for _, m := range ms {
		out = append(out, Member{ID: peer.ID(m.Author).String(), Name: m.DisplayName, Self: peer.ID(m.Author) == l.self})
	}
	return out, nil
}

// Member is one group member.
type Member struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	Self bool   `json:"self,omitempty"`
}

// memberNames maps a group's authors to their shown names. Every message
// event asks for it, so it is kept until the store's membership version
// moves. Callers only read the map: it is shared.
func (l *Local) memberNames(g store.GroupID) map[peer.ID]string {
	ver := l.st.MembershipVersion()
	if c, ok := l.names.get(g); ok && c.ver == ver {
		return c.v
	}
	ms, _ := l.st.Members(g)
	names := make(map[peer.ID]string, len(ms))
	for _, m := range ms {
		names[peer.ID(m.Author)] = m.DisplayName
	}
	l.opNames(g, names)
	l.names.put(g, ver, names)
	return names
}

// History returns up to limit messages of a group, oldest first, ending
// before the cursor (empty: the newest).
func (l *Local) History(ref string, before string, limit int) ([]Message, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return nil, err
	}
	var cur *store.Cursor
	if before != "" {
		c, err := parseCursor(before)
		if err != nil {
			return nil, err
		}
		cur = &c
	}
	if limit <= 0 || limit > 10000 {
		return nil, fmt.Errorf("%w: limit must be 1..10000", ErrInvalidInput)
	}
	out, err := l.visibleHistory(g.ID, cur, limit)
	if err != nil {
		return nil, err
	}
	l.attachPolls(g.ID, out)
	return out, nil
}

func formatCursor(lamport uint64, id store.MessageID) string {
	return fmt.Sprintf("%d-%s", lamport, hex.EncodeToString(id[:]))
}

func parseCursor(s string) (store.Cursor, error) {
	var c store.Cursor
	lam, idHex, ok := strings.Cut(s, "-")
	if !ok {
		return c, fmt.Errorf("%w: cursor %q", ErrInvalidInput, s)
	}
	if _, err := fmt.Sscanf(lam, "%d", &c.Lamport); err != nil {
		return c, fmt.Errorf("%w: cursor %q", ErrInvalidInput, s)
	}
	id, err := hex.DecodeString(idHex)
	if err != nil || len(id) != store.MessageIDLen {
		return c, fmt.Errorf("%w: cursor %q", ErrInvalidInput, s)
	}
	copy(c.ID[:], id)
	return c, nil
}

// decodeStored turns stored bytes back into a Message. Stored bytes were
// verified on the way in; they are decoded (not re-verified) here.
func decodeStored(g store.GroupID, s store.Stored, names map[peer.ID]string) (Message, error) {
	v, err := envelope.DecodeSigned(s.Raw)
	if err != nil {
		return Message{}, err
	}
	m := toMessage(g, v)
	m.AuthorName = names[v.Author]
	if mb, ok := v.Msg.Body.GetKind().(*wirepb.Body_Membership); ok {
		if o, err := membership.DecodeOp(mb.Membership.Op); err == nil {
			m.Text = describeOp(o, namesByKey(names))
		}
	}
	return m, nil
}

func toMessage(g store.GroupID, v *envelope.Verified) Message {
	m := Message{
		ID: hex.EncodeToString(v.ID[:]), Group: hex.EncodeToString(g[:]), Author: authorString(v.Author),
		Seq: v.Msg.Seq, Lamport: v.Msg.Lamport, Time: time.UnixMilli(v.Msg.TimestampMs),
		Cursor:       formatCursor(v.Msg.Lamport, v.ID),
		TimeDoubtful: envelope.TimeDoubtful(v.Msg.TimestampMs, time.Now()),
	}
	for _, p := range v.Msg.Parents {
		m.Parents = append(m.Parents, hex.EncodeToString(p))
	}
	switch b := v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Text:
		m.Kind, m.Text = "text", b.Text.Text
	case *wirepb.Body_Join:
		m.Kind, m.Text = "join", b.Join.DisplayName
	case *wirepb.Body_Receipt:
		m.Kind = "receipt" // ux: state, hidden from history (node/delivery.go)
	case *wirepb.Body_Membership:
		m.Kind = "membership"
		if o, err := membership.DecodeOp(b.Membership.Op); err == nil {
			m.Text = describeOp(o, nil)
		}
	case *wirepb.Body_File:
		m.Kind, m.File = "file", fileInfoOf(m.ID, m.Group, b.File)
		m.Text = b.File.Name
	case *wirepb.Body_Poll:
		m.Kind, m.Text = "poll", b.Poll.Question
	case *wirepb.Body_Vote:
		m.Kind = "vote"
	case *wirepb.Body_PollClose:
		m.Kind = "poll_close"
	default:
		m.Kind = "unsupported"
	}
	richFields(&m, v)
	return m
}

// authorStrings caches peer id -> its base58 text, which every delivered
// message's event carries; encoding it each time showed in profiles. It
// holds one entry per author that passed verification.
var authorStrings sync.Map

func authorString(id peer.ID) string {
	if s, ok := authorStrings.Load(id); ok {
		return s.(string)
	}
	s := id.String()
	authorStrings.Store(id, s)
	return s
}
