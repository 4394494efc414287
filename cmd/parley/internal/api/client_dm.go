package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// ContactCode returns the node's contact code (without addresses if !addrs).
func (c *Client) ContactCode(ctx context.Context, addrs bool) (string, error) {
	var r ContactCodeResponse
	path := "/v1/contacts/code"
	if !addrs {
		path += "?addrs=0"
	}
	return r.Code, c.do(ctx, http.MethodGet, path, nil, &r)
}

// AddContact adds a contact from a code or, with Group and Member, from a
// group member.
func (c *Client) AddContact(ctx context.Context, req ContactRequest) (node.Contact, error) {
	var out node.Contact
	return out, c.do(ctx, http.MethodPost, "/v1/contacts", req, &out)
}

// Contacts lists the contacts.
func (c *Client) Contacts(ctx context.Context) ([]node.Contact, error) {
	var out []node.Contact
	return out, c.do(ctx, http.MethodGet, "/v1/contacts", nil, &out)
}

// BlockContact blocks (or unblocks) a contact.
func (c *Client) BlockContact(ctx context.Context, contact string, blocked bool) (node.Contact, error) {
	var out node.Contact
	verb := "/block"
	if !blocked {
		verb = "/unblock"
	}
	return out, c.do(ctx, http.MethodPost, "/v1/contacts/"+ref(contact)+verb, nil, &out)
}

// OpenDM returns the conversation with a contact, creating it if need be.
func (c *Client) OpenDM(ctx context.Context, contact string) (node.GroupInfo, error) {
	var out node.GroupInfo
	return out, c.do(ctx, http.MethodPost, "/v1/dm/"+ref(contact), nil, &out)
}

// SendDM sends text to a contact.
func (c *Client) SendDM(ctx context.Context, contact, text string) (node.Message, error) {
	var m node.Message
	return m, c.do(ctx, http.MethodPost, "/v1/dm/"+ref(contact)+"/messages", SendRequest{Text: text}, &m)
}
