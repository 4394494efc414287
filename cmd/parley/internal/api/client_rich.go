package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// Message returns one message with its reactions, edits and quote.
func (c *Client) Message(ctx context.Context, group, id string) (node.Message, error) {
	var m node.Message
	return m, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/messages/"+ref(id), nil, &m)
}

// React adds (or with remove, takes back) an emoji on a message.
func (c *Client) React(ctx context.Context, group, id, emoji string, remove bool) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/messages/"+ref(id)+"/reactions", ReactRequest{Emoji: emoji, Remove: remove}, nil)
}

// Edit replaces the text of one of our messages.
func (c *Client) Edit(ctx context.Context, group, id, text string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/messages/"+ref(id)+"/edit", EditRequest{Text: text}, nil)
}

// Delete deletes a message (ours, or anyone's as an admin).
func (c *Client) Delete(ctx context.Context, group, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/groups/"+ref(group)+"/messages/"+ref(id), nil, nil)
}
