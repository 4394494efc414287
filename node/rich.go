package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/parley-chat/parley/node/internal/envelope"
	"github.com/parley-chat/parley/node/internal/membership"
	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Replies, reactions, edits, deletes and mentions: the sending side and the
// checks on arrival. Reading (folding them into their targets) is in
// richstate.go; the merge rules in docs/messages.md.

// Rich-message errors.
var (
	// ErrMessageNotFound: no held message of the group has that id or prefix.
	ErrMessageNotFound = errors.New("message not found")
	// ErrNotAllowed counts a refused action (an edit of someone else's
	// message, a delete by a non-admin of another's) and is returned to a
	// caller who tries one.
	ErrNotAllowed = errors.New("not-allowed")
	// ErrDeleted: the target message is deleted.
	ErrDeleted = errors.New("message deleted")
	// ErrRichDeferred counts an action not judged yet (its author's role may
	// come with parents not held yet): not stored now, fetched again by sync.
	ErrRichDeferred = errors.New("rich-deferred")
)

// SendOptions are the optional parts of a text message.
type SendOptions struct {
	ReplyTo string // id or unique prefix (8+ hex chars) of the quoted message
}

// SendWith posts a text message with options. @name tokens naming a
// current member (display name, or a peer id prefix of 6+ characters) are
// sent as mentions.
func (n *Node) SendWith(ctx context.Context, ref, text string, o SendOptions) (Message, error) {
	if len(text) > MaxTextLen {
		return Message{}, fmt.Errorf("%w: message is %d bytes; the limit is %d bytes of UTF-8", ErrInvalidInput, len(text), MaxTextLen)
	}
	if strings.TrimSpace(text) == "" || !utf8.ValidString(text) {
		return Message{}, fmt.Errorf("%w: a message is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxTextLen)
	}
	g, err := n.group(ref)
	if err != nil {
		return Message{}, err
	}
	t := &wirepb.Text{Text: text, Mentions: n.mentions(g, text)}
	if o.ReplyTo != "" {
		id, st, err := n.Local.findMessage(g.rec.ID, o.ReplyTo)
		if err != nil {
			return Message{}, err
		}
		if st.Erased {
			return Message{}, fmt.Errorf("%w: cannot reply to it", ErrDeleted)
		}
		t.ReplyTo = id[:]
	}
	m, err := n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Text{Text: t}})
	if err != nil {
		return Message{}, err
	}
	return *m, nil
}

var mentionRE = regexp.MustCompile(`@([\p{L}\p{N}_.\-]+)`)

// mentions lists the members an @token names, at most envelope.MaxMentions.
func (n *Node) mentions(g *group, text string) [][]byte {
	if !strings.Contains(text, "@") {
		return nil
	}
	toks := mentionRE.FindAllStringSubmatch(text, -1)
	if len(toks) == 0 {
		return nil
	}
	g.membersMu.Lock()
	members := make(map[peer.ID]string, len(g.members))
	for id, name := range g.members {
		members[id] = name
	}
	g.membersMu.Unlock()
	seen := map[peer.ID]bool{}
	var out [][]byte
	for _, t := range toks {
		tok := strings.TrimRight(t[1], ".-")
		for id, name := range members {
			idStr := id.String()
			match := strings.EqualFold(name, tok) ||
				(len(tok) >= 6 && strings.HasPrefix(strings.ToLower(idStr), strings.ToLower(tok)))
			if !match {
				if k, err := memberKeyOfPeer(id); err == nil && len(tok) >= 6 &&
					strings.HasPrefix(strings.ReplaceAll(membership.SafetyNumber(k), " ", ""), tok) {
					match = true
				}
			}
			if match && !seen[id] && len(out) < envelope.MaxMentions {
				seen[id] = true
				out = append(out, []byte(id))
			}
		}
	}
	return out
}

// React adds (or with remove, takes back) our emoji on a message.
func (n *Node) React(ctx context.Context, ref, msgID, emoji string, remove bool) error {
	if emoji == "" || len(emoji) > envelope.MaxEmojiLen || !utf8.ValidString(emoji) || strings.TrimSpace(emoji) != emoji {
		return fmt.Errorf("%w: an emoji is 1 to %d bytes of UTF-8", ErrInvalidInput, envelope.MaxEmojiLen)
	}
	g, id, st, err := n.target(ref, msgID)
	if err != nil {
		return err
	}
	if st.Erased {
		return ErrDeleted
	}
	_, err = n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Reaction{Reaction: &wirepb.Reaction{Target: id[:], Emoji: emoji, Remove: remove}}})
	return err
}

// Edit replaces the text of one of our own text messages.
func (n *Node) Edit(ctx context.Context, ref, msgID, text string) error {
	if strings.TrimSpace(text) == "" || len(text) > MaxTextLen || !utf8.ValidString(text) {
		return fmt.Errorf("%w: a message is 1 to %d bytes of UTF-8", ErrInvalidInput, MaxTextLen)
	}
	g, id, st, err := n.target(ref, msgID)
	if err != nil {
		return err
	}
	if st.Erased {
		return ErrDeleted
	}
	v, err := envelope.DecodeSigned(st.Raw)
	if err != nil {
		return err
	}
	if _, ok := v.Msg.Body.GetKind().(*wirepb.Body_Text); !ok || v.Author != n.self {
		return fmt.Errorf("%w: only the author may edit a text message", ErrNotAllowed)
	}
	_, err = n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Edit{Edit: &wirepb.Edit{Target: id[:], Text: text}}})
	return err
}

// Delete erases a message: ours, or anyone's if we are an admin or the
// owner. Every node that receives the tombstone erases the body.
func (n *Node) Delete(ctx context.Context, ref, msgID string) error {
	g, id, st, err := n.target(ref, msgID)
	if err != nil {
		return err
	}
	if st.Erased {
		return ErrDeleted
	}
	v, err := envelope.DecodeSigned(st.Raw)
	if err != nil {
		return err
	}
	if !deletable(v) {
		return fmt.Errorf("%w: only text, polls and files can be deleted", ErrNotAllowed)
	}
	if v.Author != n.self && !n.isAdmin(g, []byte(n.pub)) {
		return fmt.Errorf("%w: only the author or an admin may delete a message", ErrNotAllowed)
	}
	_, err = n.publish(ctx, g, &wirepb.Body{Kind: &wirepb.Body_Delete{Delete: &wirepb.Delete{
		Target: id[:], TargetAuthor: v.Msg.Author, TargetSeq: v.Msg.Seq, TargetLamport: v.Msg.Lamport,
		Edits: n.editsOf(g.rec.ID, id, v.Author)}}})
	return err
}

// editsOf names the edits of id by its author that we hold (the newest
// MaxDeleteEdits), for a delete to carry.
func (n *Node) editsOf(g store.GroupID, id store.MessageID, author peer.ID) []*wirepb.ErasedEdit {
	var out []*wirepb.ErasedEdit
	_ = n.st.Related(g, id, func(s store.Stored) bool {
		if v, ok := editBy(s, id[:], author); ok {
			out = append(out, &wirepb.ErasedEdit{Id: s.ID[:], Seq: v.Msg.Seq, Lamport: v.Msg.Lamport})
		}
		return true
	})
	if len(out) > envelope.MaxDeleteEdits {
		out = out[len(out)-envelope.MaxDeleteEdits:]
	}
	return out
}

func (n *Node) target(ref, msgID string) (*group, store.MessageID, store.Stored, error) {
	g, err := n.group(ref)
	if err != nil {
		return nil, store.MessageID{}, store.Stored{}, err
	}
	id, st, err := n.Local.findMessage(g.rec.ID, msgID)
	return g, id, st, err
}

// findMessage resolves a full id or a unique prefix of 8+ hex characters.
func (l *Local) findMessage(g store.GroupID, ref string) (store.MessageID, store.Stored, error) {
	ref = strings.ToLower(strings.TrimSpace(ref))
	if len(ref) < 8 || len(ref) > 2*store.MessageIDLen {
		return store.MessageID{}, store.Stored{}, fmt.Errorf("%w: a message id is 8 to 64 hex characters", ErrInvalidInput)
	}
	if _, err := hex.DecodeString(ref[:len(ref)/2*2]); err != nil {
		return store.MessageID{}, store.Stored{}, fmt.Errorf("%w: %q is not a hex message id", ErrInvalidInput, ref)
	}
	ids, err := l.st.IDsWithPrefix(g, ref, 2)
	if err != nil {
		return store.MessageID{}, store.Stored{}, err
	}
	switch len(ids) {
	case 0:
		return store.MessageID{}, store.Stored{}, fmt.Errorf("%w: %s", ErrMessageNotFound, ref)
	case 1:
	default:
		return store.MessageID{}, store.Stored{}, fmt.Errorf("%w: message id prefix %s matches several messages", ErrAmbiguous, ref)
	}
	st, err := l.st.Get(g, ids[0])
	if errors.Is(err, store.ErrNotFound) {
		err = fmt.Errorf("%w: %s", ErrMessageNotFound, ref)
	}
	return ids[0], st, err
}

// isAdmin reports whether author (a marshalled public key) is an admin or
// the owner in the membership state this node holds.
func (n *Node) isAdmin(g *group, author []byte) bool {
	k, err := memberKeyOf(author)
	if err != nil {
		return false
	}
	m := g.mem
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.log == nil {
		return false
	}
	return m.log.State().Role(k) >= membership.RoleAdmin
}

// refuseRich drops the actions this node can already tell are not allowed
// (counted): an edit of another author's message, a delete by a non-admin
// of another's, a tombstone whose claims differ from the target it names.
// An action on a target not held yet is judged when folding.
func (n *Node) refuseRich(g *group, vs []*envelope.Verified, from peer.ID) []*envelope.Verified {
	kept := vs[:0:0]
	for _, v := range vs {
		if err := n.checkRich(g, v); err != nil {
			n.drops.count(err)
			if errors.Is(err, ErrRichDeferred) && from != "" && from != n.self {
				n.sync.RequestGap(from, g.sync)
			}
			n.log.Debug("refused message", "id", hex.EncodeToString(v.ID[:8]), "reason", err)
			continue
		}
		kept = append(kept, v)
	}
	return kept
}

func (n *Node) checkRich(g *group, v *envelope.Verified) error {
	switch b := v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Edit:
		t, ok := n.heldTarget(g, b.Edit.Target)
		if ok && (t.Author != v.Author || !isText(t)) {
			return fmt.Errorf("%w: edit of another author's message", ErrNotAllowed)
		}
	case *wirepb.Body_Delete:
		d := b.Delete
		t, ok := n.heldTarget(g, d.Target)
		if ok && (string(t.Msg.Author) != string(d.TargetAuthor) || t.Msg.Seq != d.TargetSeq || t.Msg.Lamport != d.TargetLamport) {
			return fmt.Errorf("%w: tombstone claims differ from its target", ErrBadField)
		}
		if ok && !deletable(t) {
			return fmt.Errorf("%w: delete of a message that is not text, a poll or a file", ErrNotAllowed)
		}
		if string(v.Msg.Author) != string(d.TargetAuthor) && !n.isAdmin(g, v.Msg.Author) {
			if !n.parentsHeld(g, v) {
				// The op that made the author an admin may be among what we
				// lack: not judged now; sync brings it again after its parents.
				return ErrRichDeferred
			}
			return fmt.Errorf("%w: delete of another's message by a non-admin", ErrNotAllowed)
		}
	}
	return nil
}

func (n *Node) parentsHeld(g *group, v *envelope.Verified) bool {
	for _, p := range v.Msg.Parents {
		if ok, err := n.st.Has(g.rec.ID, store.MessageID(p)); err != nil || !ok {
			return false
		}
	}
	return true
}

// heldTarget decodes a held, unerased target.
func (n *Node) heldTarget(g *group, target []byte) (*envelope.Verified, bool) {
	if len(target) != store.MessageIDLen {
		return nil, false
	}
	st, err := n.st.Get(g.rec.ID, store.MessageID(target))
	if err != nil || st.Erased {
		return nil, false
	}
	t, err := envelope.DecodeSigned(st.Raw)
	return t, err == nil
}

// deletable: what people post (text, polls, files); never joins or
// membership ops, which other nodes need to follow the membership.
func deletable(v *envelope.Verified) bool {
	switch v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Text, *wirepb.Body_Poll, *wirepb.Body_File:
		return true
	}
	return false
}

func isText(v *envelope.Verified) bool {
	_, ok := v.Msg.Body.GetKind().(*wirepb.Body_Text)
	return ok
}

// afterStore applies what a newly stored message does to others: a
// tombstone erases its target; any action refreshes its target on screen.
func (n *Node) afterStore(g *group, v *envelope.Verified) {
	switch b := v.Msg.Body.GetKind().(type) {
	case *wirepb.Body_Reaction, *wirepb.Body_Edit:
	case *wirepb.Body_Delete:
		n.applyDelete(g, v, b.Delete)
	default:
		return
	}
	target := envelope.Targets(v.Msg.Body)
	if len(target) == 0 || !n.events.active() {
		return
	}
	if m, err := n.Local.message(g.rec.ID, target[0]); err == nil {
		n.events.publish(Event{Type: EventUpdate, Group: m.Group, Message: &m})
	}
}

func (n *Node) applyDelete(g *group, v *envelope.Verified, d *wirepb.Delete) {
	id := store.MessageID(d.Target)
	held, err := n.st.Has(g.rec.ID, id)
	if err != nil {
		n.log.Warn("delete: lookup", "err", err)
		return
	}
	if held {
		erased, err := n.st.Erase(g.rec.ID, id, n.Local.indexedTerms(g.rec.ID, id)...)
		if err != nil {
			n.log.Error("delete: erase body", "err", err)
			return
		}
		if erased {
			n.onErased(g.rec.ID, id)
		}
		n.recordErasedEdits(g, v, d)
		return
	}
	// Never held: count its seq held so sync does not ask for it, and a
	// late copy is a duplicate (stays erased).
	author, ok := deleteTargetAuthor(d)
	if !ok {
		return
	}
	_, err = n.st.AppendErased(n.ctx, store.Message{Group: g.rec.ID, ID: id, Author: []byte(author),
		Seq: d.TargetSeq, Lamport: d.TargetLamport, TimeMs: v.Msg.TimestampMs})
	if err != nil {
		n.log.Warn("delete: record erased message", "err", err)
		return
	}
	n.onErased(g.rec.ID, id)
	n.recordErasedEdits(g, v, d)
}

// isEditOf reports whether held message id is an edit of target by author.
func (n *Node) isEditOf(g store.GroupID, id store.MessageID, target []byte, author peer.ID) bool {
	st, err := n.st.Get(g, id)
	if err != nil {
		return false
	}
	_, ok := editBy(st, target, author)
	return ok
}

// editBy decodes s if it is an edit of target by author.
func editBy(s store.Stored, target []byte, author peer.ID) (*envelope.Verified, bool) {
	if s.Erased {
		return nil, false
	}
	v, err := envelope.DecodeSigned(s.Raw)
	if err != nil || v.Author != author {
		return nil, false
	}
	e, ok := v.Msg.Body.GetKind().(*wirepb.Body_Edit)
	return v, ok && bytes.Equal(e.Edit.Target, target)
}

func deleteTargetAuthor(d *wirepb.Delete) (peer.ID, bool) {
	pub, err := crypto.UnmarshalPublicKey(d.TargetAuthor)
	if err != nil || d.TargetSeq == 0 {
		return "", false
	}
	author, err := peer.IDFromPublicKey(pub)
	return author, err == nil
}

// recordErasedEdits erases the edits a delete names (their texts go with
// the target). Every node erases the same set, the one in the signed
// delete: one it holds loses its body; one it never held is recorded as
// erased, so its seq is held, no sync asks for it and a late copy is a
// duplicate. An edit the deleter did not know of (made concurrently) stays
// stored, hidden: erasing it on some nodes would leave a seq no tombstone
// explains on the nodes that sync from them.
func (n *Node) recordErasedEdits(g *group, v *envelope.Verified, d *wirepb.Delete) {
	if len(d.Edits) == 0 {
		return
	}
	author, ok := deleteTargetAuthor(d)
	if !ok {
		return
	}
	for _, e := range d.Edits {
		id := store.MessageID(e.Id)
		held, err := n.st.Has(g.rec.ID, id)
		if err != nil {
			continue
		}
		if held {
			if !n.isEditOf(g.rec.ID, id, d.Target, author) {
				continue // a delete names only its target's edits
			}
			if _, err := n.st.Erase(g.rec.ID, id, n.Local.indexedTerms(g.rec.ID, id)...); err != nil {
				n.log.Error("delete: erase edit", "err", err)
			}
			continue
		}
		_, err = n.st.AppendErased(n.ctx, store.Message{Group: g.rec.ID, ID: id, Author: []byte(author),
			Seq: e.Seq, Lamport: e.Lamport, TimeMs: v.Msg.TimestampMs})
		if err != nil {
			n.log.Warn("delete: record erased edit", "err", err)
		}
	}
}

// onErased is called once a message's body is erased from the store (its
// own search postings went with it): the postings of its edits go too.
func (n *Node) onErased(g store.GroupID, id store.MessageID) {
	if err := n.Local.unindexMessage(g, id, ""); err != nil {
		n.log.Warn("delete: unindex edits", "err", err)
	}
}

// Message returns one message of a group (id or unique prefix of 8+ hex
// characters) with its reactions, edits and quote folded in.
func (l *Local) Message(ref, msgID string) (Message, error) {
	g, err := l.resolve(ref)
	if err != nil {
		return Message{}, err
	}
	id, _, err := l.findMessage(g.ID, msgID)
	if err != nil {
		return Message{}, err
	}
	return l.message(g.ID, id)
}
