package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// MarkRead marks a group read and remembers it as last open.
func (c *Client) MarkRead(ctx context.Context, group string) (node.GroupInfo, error) {
	var r MarkReadResponse
	err := c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/read", nil, &r)
	return r.Group, err
}

// SetMuted mutes or unmutes a group.
func (c *Client) SetMuted(ctx context.Context, group string, muted bool) (node.GroupInfo, error) {
	verb := "/unmute"
	if muted {
		verb = "/mute"
	}
	var gi node.GroupInfo
	return gi, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+verb, nil, &gi)
}

// SetReadReceipts turns read receipts on or off.
func (c *Client) SetReadReceipts(ctx context.Context, on bool) error {
	return c.do(ctx, http.MethodPut, "/v1/profile/read-receipts", ReadReceiptsSetting{On: on}, nil)
}

// ReadReceipts reports the read-receipts setting.
func (c *Client) ReadReceipts(ctx context.Context) (bool, error) {
	var r ReadReceiptsSetting
	return r.On, c.do(ctx, http.MethodGet, "/v1/profile/read-receipts", nil, &r)
}
