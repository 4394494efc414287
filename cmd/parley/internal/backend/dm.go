package backend

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// DirectMessages is the part of Backend that manages contacts, one-to-one
// conversations and blocks.
type DirectMessages interface {
	// ContactCode is our contact code, with our addresses if addrs.
	ContactCode(addrs bool) (string, error)
	AddContact(ctx context.Context, code, name string) (node.Contact, error)
	AddContactFromMember(ctx context.Context, group, member, name string) (node.Contact, error)
	Contacts() ([]node.Contact, error)
	BlockContact(ctx context.Context, ref string, blocked bool) (node.Contact, error)
	// OpenDM returns (creating it if need be) the conversation with a contact.
	OpenDM(ctx context.Context, ref string) (node.GroupInfo, error)
	SendDM(ctx context.Context, ref, text string) (node.Message, error)
}
