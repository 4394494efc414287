package chatcmd

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

func TestParsePoll(t *testing.T) {
	q, opts, multi, anon, err := ParsePoll("Where to? | the park | the beach | home --anonymous")
	if err != nil || q != "Where to?" || !slices.Equal(opts, []string{"the park", "the beach", "home"}) || multi || !anon {
		t.Fatalf("%q %q %v %v %v", q, opts, multi, anon, err)
	}
	if _, _, multi, _, _ := ParsePoll("--multi Q | a | b"); !multi {
		t.Fatal("--multi first not seen")
	}
	for _, bad := range []string{"Q | a", "Q", " | a | b", "Q |a|b|c|d|e|f|g|h|i|j|k"} {
		if _, _, _, _, err := ParsePoll(bad); !errors.Is(err, ErrUsage) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestPollNumbers(t *testing.T) {
	var p PollNumbers
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	if p.Number(a) != 1 || p.Number(b) != 2 || p.Number(a) != 1 {
		t.Fatal("numbers not stable")
	}
	for ref, want := range map[string]string{"1": a, "#2": b, "bbbbbbbb": "bbbbbbbb"} {
		if got, err := p.Resolve(ref); err != nil || got != want {
			t.Errorf("%q -> %q %v", ref, got, err)
		}
	}
	if _, err := p.Resolve("3"); !errors.Is(err, node.ErrNoSuchPoll) {
		t.Errorf("unknown number: %v", err)
	}
}

func TestPollLinesHideNothingTheyShouldShow(t *testing.T) {
	p := node.PollInfo{ID: "x", Question: "Q\x1b[31m", TotalVoters: 2, Options: []node.PollOption{
		{Text: "a", Count: 2, Mine: true, Voters: []node.PollVoter{{ID: "12D3KooWAAAAAAAA", Name: "ann"}, {ID: "12D3KooWBBBBBBBB"}}},
		{Text: "b"}}}
	ls := PollLines(p, 3, 4)
	if len(ls) != 3 || !strings.HasPrefix(ls[0], "poll #3: Q") || strings.Contains(ls[0], "\x1b") {
		t.Fatalf("%q", ls)
	}
	if ls[1] != "*  1. ████ a 2 (ann, BBBBBBBB)" || ls[2] != "   2. ░░░░ b 0" {
		t.Fatalf("%q", ls[1:])
	}
}
