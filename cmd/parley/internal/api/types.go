package api

// CreateGroupRequest is the body of POST /v1/groups.
type CreateGroupRequest struct {
	Name            string `json:"name"`
	HistoryFromJoin bool   `json:"history_from_join"`
}

// InviteResponse is the answer to POST /v1/groups/{ref}/invite.
type InviteResponse struct {
	Code string `json:"code"`
}

// JoinRequest is the body of POST /v1/join.
type JoinRequest struct {
	Code string `json:"code"`
}

// SendRequest is the body of POST /v1/groups/{ref}/messages.
type SendRequest struct {
	Text string `json:"text"`
}

// ErrorResponse is the body of every error answer.
type ErrorResponse struct {
	Error string `json:"error"`
}

// MaxBodyBytes bounds request bodies.
const MaxBodyBytes = 64 << 10

// DefaultHistoryLimit is the page size when ?limit= is absent.
const DefaultHistoryLimit = 50
