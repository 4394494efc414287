package backend

import (
	"context"

	"github.com/parley-chat/parley/node"
)

// Polls is the part of Backend that runs polls (docs/polls.md). Choices
// are 0-based option indexes.
type Polls interface {
	CreatePoll(ctx context.Context, ref, question string, options []string, multi, anonymous bool) (node.Message, error)
	Vote(ctx context.Context, ref, pollID string, choices []int) error
	ClosePoll(ctx context.Context, ref, pollID string) error
	Poll(ref, pollID string) (node.PollInfo, error)
}
