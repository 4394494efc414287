package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

const testPollID = "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12"

func (f *fake) CreatePoll(_ context.Context, ref, q string, opts []string, multi, anon bool) (node.Message, error) {
	err := f.call("poll %s %s [%s] multi=%v anonymous=%v", ref, q, strings.Join(opts, "|"), multi, anon)
	return node.Message{ID: testPollID, Kind: "poll", Text: q}, err
}
func (f *fake) Vote(_ context.Context, ref, poll string, cs []int) error {
	return f.call("vote %s %s %v", ref, poll, cs)
}
func (f *fake) ClosePoll(_ context.Context, ref, poll string) error {
	return f.call("closepoll %s %s", ref, poll)
}
func (f *fake) Poll(ref, poll string) (node.PollInfo, error) { return testPoll(0, 0), nil }

func testPoll(pizza, sushi int) node.PollInfo {
	return node.PollInfo{ID: testPollID, Question: "Lunch?", TotalVoters: pizza + sushi,
		Options: []node.PollOption{{Text: "pizza", Count: pizza}, {Text: "sushi", Count: sushi}}}
}

func TestPollShownLiveAndCommands(t *testing.T) {
	f := newFake()
	g := f.addGroup("aa", "Family", 2)
	p := testPoll(1, 0)
	g.msgs = append(g.msgs, node.Message{ID: testPollID, Group: "aa", Author: "12D3KooWBob", AuthorName: "bob", Kind: "poll",
		Text: "Lunch?", Time: t0, Lamport: 99, Cursor: "99-" + testPollID, Poll: &p})
	m := start(t, f, 100, 30)
	v := checkFrame(t, m, 100, 30)
	for _, want := range []string{"poll #1: Lunch?", "pizza 1", "sushi 0", "█", "/vote 1 CHOICE"} {
		if !strings.Contains(v, want) {
			t.Fatalf("poll view lacks %q:\n%s", want, v)
		}
	}
	// A tally update redraws the poll in place.
	up := testPoll(1, 2)
	up.Closed = true
	msg := g.msgs[len(g.msgs)-1]
	msg.Poll = &up
	drive(t, m, eventsMsg{evs: []node.Event{
		{Type: node.EventMessage, Group: "aa", Message: &node.Message{ID: "ff", Group: "aa", Kind: "vote", Time: t0, Lamport: 100}},
		{Type: node.EventUpdate, Group: "aa", Message: &msg},
	}})
	v = checkFrame(t, m, 100, 30)
	if !strings.Contains(v, "sushi 2") || !strings.Contains(v, "closed") || strings.Contains(v, "(vote message)") {
		t.Fatalf("after the update:\n%s", v)
	}
	typeLine(t, m, "/vote 1 2")
	typeLine(t, m, "/vote #1 none")
	typeLine(t, m, "/close 1")
	typeLine(t, m, "/poll Where? | park | beach --multi")
	want := []string{"vote aa " + testPollID + " [1]", "vote aa " + testPollID + " []", "closepoll aa " + testPollID,
		"poll aa Where? [park|beach] multi=true anonymous=false"}
	if strings.Join(f.calls, "\n") != strings.Join(want, "\n") {
		t.Fatalf("calls:\n%s\nwant:\n%s", strings.Join(f.calls, "\n"), strings.Join(want, "\n"))
	}
	typeLine(t, m, "/vote 7 1")
	if !m.isErr || !strings.Contains(m.notice, "no poll #7") {
		t.Fatalf("unknown poll number: %q", m.notice)
	}
	typeLine(t, m, "/poll only | one")
	if !m.isErr || !strings.Contains(m.notice, "usage") {
		t.Fatalf("one option: %q", m.notice)
	}
}
