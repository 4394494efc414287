package api

import (
	"context"
	"net/http"
	"time"
)

// MemberList lists a group's members with roles and safety numbers (empty
// for a group without roles).
func (c *Client) MemberList(ctx context.Context, group string) ([]Member, error) {
	var m []Member
	return m, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/members", nil, &m)
}

// RemoveMember removes member (name, safety number or peer id prefix).
func (c *Client) RemoveMember(ctx context.Context, group, member string) error {
	return c.do(ctx, http.MethodDelete, "/v1/groups/"+ref(group)+"/members/"+ref(member), nil, nil)
}

// Promote makes member an admin.
func (c *Client) Promote(ctx context.Context, group, member string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/members/"+ref(member)+"/promote", nil, nil)
}

// Demote makes an admin a plain member.
func (c *Client) Demote(ctx context.Context, group, member string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/members/"+ref(member)+"/demote", nil, nil)
}

// Leave leaves a group.
func (c *Client) Leave(ctx context.Context, group string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/leave", nil, nil)
}

// RenameGroup renames a group.
func (c *Client) RenameGroup(ctx context.Context, group, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/rename", NameRequest{Name: name}, nil)
}

// SetDisplayName changes this node's display name (a signed profile update
// sent to every group).
func (c *Client) SetDisplayName(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodPost, "/v1/profile/name", NameRequest{Name: name}, nil)
}

// Profile returns the node's peer id and safety number.
func (c *Client) Profile(ctx context.Context) (Profile, error) {
	var p Profile
	return p, c.do(ctx, http.MethodGet, "/v1/profile", nil, &p)
}

// CreateInvite makes a tracked invite: expires 0 is the node's default (7
// days), uses 0 unlimited.
func (c *Client) CreateInvite(ctx context.Context, group string, expires time.Duration, uses int) (string, Invite, error) {
	var r InviteResponse
	req := InviteRequest{ExpiresSeconds: int64(expires / time.Second), Uses: uses}
	if err := c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/invite", req, &r); err != nil {
		return "", Invite{}, err
	}
	var inv Invite
	if r.Invite != nil {
		inv = *r.Invite
	}
	return r.Code, inv, nil
}

// Invites lists a group's invites.
func (c *Client) Invites(ctx context.Context, group string) ([]Invite, error) {
	var is []Invite
	return is, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/invites", nil, &is)
}

// RevokeInvite revokes an invite by id.
func (c *Client) RevokeInvite(ctx context.Context, group, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/groups/"+ref(group)+"/invites/"+ref(id), nil, nil)
}
