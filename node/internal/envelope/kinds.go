package envelope

import (
	"fmt"
	"unicode/utf8"

	"github.com/parley-chat/parley/node/wirepb"
	"github.com/parley-chat/parley/store"
)

// Bounds of the body kinds that act on other messages (docs/messages.md).
const (
	MaxMentions       = 32
	MaxEmojiLen       = 32 // bytes: one emoji with modifiers and joiners fits
	MinPollOptions    = 2
	MaxPollOptions    = 10
	MaxPollOptionLen  = 256
	MaxReceiptAuthors = 1024
	MaxDeleteEdits    = 64 // edits a delete names (erased with its target)
	MaxFileNameLen    = 255
	MaxMimeLen        = 127
	FileKeyLen        = 32
	FileRootLen       = 32
	// MaxChunkSize bounds a file chunk (plaintext); a chunk travels in one
	// length-bounded stream frame.
	MaxChunkSize = 1 << 20
	// MaxAuthorKeyLen bounds a marshalled public key named in a body.
	MaxAuthorKeyLen = 128
	// MaxPeerIDLen bounds a peer id named in a body (mentions).
	MaxPeerIDLen = 64
)

func validText(s string, max int) bool { return len(s) <= max && utf8.ValidString(s) }

func validID(b []byte) bool { return len(b) == store.MessageIDLen }

// checkKind checks the fields of the body kinds added after version 1's
// text, join and membership.
func checkKind(b *wirepb.Body) error {
	switch k := b.Kind.(type) {
	case *wirepb.Body_Text:
		t := k.Text
		if !validText(t.Text, MaxTextLen) {
			return fmt.Errorf("%w: text", ErrBadField)
		}
		if len(t.ReplyTo) != 0 && !validID(t.ReplyTo) {
			return fmt.Errorf("%w: reply_to length %d", ErrBadField, len(t.ReplyTo))
		}
		if len(t.Mentions) > MaxMentions {
			return fmt.Errorf("%w: %d mentions", ErrBadField, len(t.Mentions))
		}
		for _, m := range t.Mentions {
			if len(m) == 0 || len(m) > MaxPeerIDLen {
				return fmt.Errorf("%w: mention length %d", ErrBadField, len(m))
			}
		}
	case *wirepb.Body_Reaction:
		r := k.Reaction
		if !validID(r.Target) || r.Emoji == "" || !validText(r.Emoji, MaxEmojiLen) {
			return fmt.Errorf("%w: reaction", ErrBadField)
		}
	case *wirepb.Body_Edit:
		e := k.Edit
		if !validID(e.Target) || e.Text == "" || !validText(e.Text, MaxTextLen) {
			return fmt.Errorf("%w: edit", ErrBadField)
		}
	case *wirepb.Body_Delete:
		d := k.Delete
		if !validID(d.Target) || len(d.TargetAuthor) == 0 || len(d.TargetAuthor) > MaxAuthorKeyLen ||
			d.TargetSeq == 0 || d.TargetLamport == 0 || d.TargetLamport > MaxLamport || len(d.Edits) > MaxDeleteEdits {
			return fmt.Errorf("%w: delete", ErrBadField)
		}
		for _, e := range d.Edits {
			if !validID(e.Id) || e.Seq == 0 || e.Lamport == 0 || e.Lamport > MaxLamport {
				return fmt.Errorf("%w: delete: erased edit", ErrBadField)
			}
		}
	case *wirepb.Body_Poll:
		p := k.Poll
		if p.Question == "" || !validText(p.Question, MaxTextLen) ||
			len(p.Options) < MinPollOptions || len(p.Options) > MaxPollOptions {
			return fmt.Errorf("%w: poll", ErrBadField)
		}
		for _, o := range p.Options {
			if o == "" || !validText(o, MaxPollOptionLen) {
				return fmt.Errorf("%w: poll option", ErrBadField)
			}
		}
	case *wirepb.Body_Vote:
		v := k.Vote
		if !validID(v.Poll) || len(v.Choices) > MaxPollOptions {
			return fmt.Errorf("%w: vote", ErrBadField)
		}
		seen := map[uint32]bool{}
		for _, c := range v.Choices {
			if c >= MaxPollOptions || seen[c] {
				return fmt.Errorf("%w: vote choice %d", ErrBadField, c)
			}
			seen[c] = true
		}
	case *wirepb.Body_PollClose:
		if !validID(k.PollClose.Poll) {
			return fmt.Errorf("%w: poll close", ErrBadField)
		}
	case *wirepb.Body_Receipt:
		r := k.Receipt
		if len(r.Stored) > MaxReceiptAuthors || (len(r.ReadUpTo) != 0 && !validID(r.ReadUpTo)) {
			return fmt.Errorf("%w: receipt", ErrBadField)
		}
		for _, a := range r.Stored {
			if len(a.Author) == 0 || len(a.Author) > MaxAuthorKeyLen {
				return fmt.Errorf("%w: receipt author", ErrBadField)
			}
		}
	case *wirepb.Body_File:
		f := k.File
		if f.Name == "" || !validText(f.Name, MaxFileNameLen) || !validText(f.Mime, MaxMimeLen) ||
			len(f.Root) != FileRootLen || len(f.Key) != FileKeyLen || len(f.ContentHash) != 32 ||
			f.ChunkSize == 0 || f.ChunkSize > MaxChunkSize {
			return fmt.Errorf("%w: file announcement", ErrBadField)
		}
	}
	return nil
}

// Targets is the message a body acts on (a reaction's, edit's, delete's,
// vote's or poll close's target, a reply's quote), for the store's
// relations index; nil for other kinds. Lengths were checked by CheckFields.
func Targets(b *wirepb.Body) []store.MessageID {
	var t []byte
	switch k := b.GetKind().(type) {
	case *wirepb.Body_Text:
		t = k.Text.ReplyTo
	case *wirepb.Body_Reaction:
		t = k.Reaction.Target
	case *wirepb.Body_Edit:
		t = k.Edit.Target
	case *wirepb.Body_Delete:
		t = k.Delete.Target
	case *wirepb.Body_Vote:
		t = k.Vote.Poll
	case *wirepb.Body_PollClose:
		t = k.PollClose.Poll
	}
	if len(t) != store.MessageIDLen {
		return nil
	}
	var id store.MessageID
	copy(id[:], t)
	return []store.MessageID{id}
}
