package backend

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// Rich is the part of Backend for replies, reactions, edits and deletes
// (message ids: a full id or a unique prefix of 8+ hex characters).
type Rich interface {
	SendWith(ctx context.Context, ref, text string, o node.SendOptions) (node.Message, error)
	React(ctx context.Context, ref, msgID, emoji string, remove bool) error
	Edit(ctx context.Context, ref, msgID, text string) error
	Delete(ctx context.Context, ref, msgID string) error
	// Message is one message with its reactions, edits and quote folded in.
	Message(ref, msgID string) (node.Message, error)
}
