package backendtest

import (
	"context"
	"fmt"
	"strings"

	"github.com/parley-chat/parley/node"
)

// FakePollID is the id of the poll the fake creates.
const FakePollID = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"

func (f *Fake) CreatePoll(_ context.Context, ref, question string, options []string, multi, anonymous bool) (node.Message, error) {
	if err := f.call("poll %s %s [%s] multi=%v anonymous=%v", ref, question, strings.Join(options, "|"), multi, anonymous); err != nil {
		return node.Message{}, err
	}
	p, _ := f.Poll(ref, FakePollID)
	return node.Message{ID: FakePollID, Kind: "poll", Text: question, Poll: &p}, nil
}

func (f *Fake) Vote(_ context.Context, ref, poll string, choices []int) error {
	return f.call("vote %s %s %v", ref, poll, choices)
}

func (f *Fake) ClosePoll(_ context.Context, ref, poll string) error {
	return f.call("closepoll %s %s", ref, poll)
}

func (f *Fake) Poll(ref, poll string) (node.PollInfo, error) {
	if !strings.HasPrefix(FakePollID, poll) || len(poll) < node.MinPollPrefix {
		return node.PollInfo{}, fmt.Errorf("%w: %q", node.ErrNoSuchPoll, poll)
	}
	return node.PollInfo{ID: FakePollID, Question: "Lunch?", Creator: SelfID, TotalVoters: 1, MyChoices: []int{1},
		Options: []node.PollOption{{Text: "pizza"}, {Text: "sushi", Count: 1, Mine: true, Voters: []node.PollVoter{{ID: SelfID, Name: "alice"}}}}}, nil
}
