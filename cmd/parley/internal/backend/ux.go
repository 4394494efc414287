package backend

import "github.com/parley-chat/parley/node"

// UX is the part of Backend for what people need to see: read positions
// (unread counts), the conversation last open, mutes, delivery state of
// their own messages, messages known to be missing, and read receipts.
type UX interface {
	// MarkRead marks a group read up to its newest message and remembers
	// it as the conversation last open.
	MarkRead(ref string) error
	// LastOpen is the id of the group last marked read, or "".
	LastOpen() string
	SetMuted(ref string, muted bool) error
	// Delivery is the delivery state of my messages among ids.
	Delivery(ref string, ids []string) (map[string]node.Delivery, error)
	Missing(ref string) ([]node.MissingInfo, error)
	ReadReceipts() bool
	SetReadReceipts(on bool) error
}
