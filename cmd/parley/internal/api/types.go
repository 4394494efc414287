package api

import (
	"time"

	"github.com/parley-chat/parley/node"
)

// CreateGroupRequest is the body of POST /v1/groups.
type CreateGroupRequest struct {
	Name            string `json:"name"`
	HistoryFromJoin bool   `json:"history_from_join"`
}

// InviteResponse is the answer to POST /v1/groups/{ref}/invite.
type InviteResponse struct {
	Code   string  `json:"code"`
	Invite *Invite `json:"invite,omitempty"` // a tracked invite (request with a body)
}

// JoinRequest is the body of POST /v1/join.
type JoinRequest struct {
	Code string `json:"code"`
}

// SendRequest is the body of POST /v1/groups/{ref}/messages.
type SendRequest struct {
	Text    string `json:"text"`
	ReplyTo string `json:"reply_to,omitempty"` // id or unique prefix of the quoted message
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
	Code  string `json:"code,omitempty"` // which node error, when known (see codes.go)
}

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 64 << 10

// DefaultHistoryLimit is the page size when ?limit= is absent.
const DefaultHistoryLimit = 50

// Member is one entry of GET /v1/groups/{ref}/members. ID and PeerID are
// the same peer id (ID is what older clients read). Role and SafetyNumber
// are empty for a group without roles (made before membership management).
type Member struct {
	ID           string     `json:"id"`
	PeerID       string     `json:"peer_id"`
	Name         string     `json:"name,omitempty"`
	Role         string     `json:"role,omitempty"` // "owner", "admin" or "member"
	SafetyNumber string     `json:"safety_number,omitempty"`
	Self         bool       `json:"self,omitempty"`
	Joined       *time.Time `json:"joined,omitempty"`
}

// Invite describes an invite (GET /v1/groups/{ref}/invites). MaxUses 0 is
// unlimited.
type Invite struct {
	ID      string    `json:"id"`
	Creator string    `json:"creator,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	MaxUses int       `json:"max_uses"`
	Uses    int       `json:"uses"`
	Revoked bool      `json:"revoked"`
}

// InviteRequest is the optional body of POST /v1/groups/{ref}/invite. With
// no body the node makes a plain invite (as before invites had limits);
// with one, a tracked invite: ExpiresSeconds 0 is the node's default (7
// days), Uses 0 is unlimited.
type InviteRequest struct {
	ExpiresSeconds int64 `json:"expires_seconds"`
	Uses           int   `json:"uses"`
}

// NameRequest is the body of POST /v1/groups/{ref}/rename and POST /v1/profile/name.
type NameRequest struct {
	Name string `json:"name"`
}

// Profile is the answer to GET /v1/profile.
type Profile struct {
	ID           string `json:"id"`
	SafetyNumber string `json:"safety_number"`
}

// MemberFromNode converts a node member (with roles) to its API form.
func MemberFromNode(m node.MemberInfo) Member {
	out := Member{ID: m.PeerID, PeerID: m.PeerID, Name: m.Name, Role: m.Role, SafetyNumber: m.SafetyNumber, Self: m.Self}
	if !m.Joined.IsZero() {
		j := m.Joined
		out.Joined = &j
	}
	return out
}

// MemberFromLegacy converts a member of a group without roles.
func MemberFromLegacy(m node.Member) Member {
	return Member{ID: m.ID, PeerID: m.ID, Name: m.Name, Self: m.Self}
}

// InviteFromNode converts an invite to its API form.
func InviteFromNode(i node.InviteInfo) Invite {
	return Invite{ID: i.ID, Creator: i.Creator, Created: i.Created, Expires: i.Expires, MaxUses: i.MaxUses, Uses: i.Uses, Revoked: i.Revoked}
}
