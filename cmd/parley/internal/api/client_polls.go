package api

import (
	"context"
	"net/http"

	"github.com/parley-chat/parley/node"
)

// CreatePoll opens a poll; the message's id is the poll id.
func (c *Client) CreatePoll(ctx context.Context, group, question string, options []string, multi, anonymous bool) (node.Message, error) {
	var m node.Message
	req := CreatePollRequest{Question: question, Options: options, Multi: multi, Anonymous: anonymous}
	return m, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/polls", req, &m)
}

// Poll reads a poll's tally (poll: full id or a unique prefix of 8+ hex digits).
func (c *Client) Poll(ctx context.Context, group, poll string) (node.PollInfo, error) {
	var p node.PollInfo
	return p, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/polls/"+ref(poll), nil, &p)
}

// Vote sets our whole vote (0-based choices; none withdraws) and returns the tally.
func (c *Client) Vote(ctx context.Context, group, poll string, choices []int) (node.PollInfo, error) {
	var p node.PollInfo
	if choices == nil {
		choices = []int{}
	}
	return p, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/polls/"+ref(poll)+"/vote", VoteRequest{Choices: choices}, &p)
}

// ClosePoll closes a poll (its creator or an admin) and returns the tally.
func (c *Client) ClosePoll(ctx context.Context, group, poll string) (node.PollInfo, error) {
	var p node.PollInfo
	return p, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/polls/"+ref(poll)+"/close", struct{}{}, &p)
}
