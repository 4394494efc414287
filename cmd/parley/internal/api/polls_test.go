package api

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/backend/backendtest"
	"github.com/parley-chat/parley/node"
)

func TestPollEndpoints(t *testing.T) {
	f, c, ts := fakeServer(t)
	ctx := context.Background()
	m, err := c.CreatePoll(ctx, "Fam", "Lunch?", []string{"pizza", "sushi"}, true, false)
	if err != nil || m.ID != backendtest.FakePollID || m.Poll == nil {
		t.Fatalf("%+v %v", m, err)
	}
	p, err := c.Vote(ctx, "Fam", "ab12cd34", []int{1})
	if err != nil || p.Options[1].Count != 1 || !p.Options[1].Mine {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := c.Vote(ctx, "Fam", "ab12cd34", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ClosePoll(ctx, "Fam", "ab12cd34"); err != nil {
		t.Fatal(err)
	}
	want := "poll Fam Lunch? [pizza|sushi] multi=true anonymous=false|vote Fam ab12cd34 [1]|vote Fam ab12cd34 []|closepoll Fam ab12cd34"
	if got := strings.Join(f.Calls(), "|"); got != want {
		t.Fatalf("calls %q\nwant  %q", got, want)
	}
	if _, err := c.Poll(ctx, "Fam", "ffffffff"); !errors.Is(err, node.ErrNoSuchPoll) {
		t.Fatalf("unknown poll: %v", err)
	}
	code, body := raw(t, ts, "GET", "/v1/groups/Fam/polls/"+backendtest.FakePollID, "")
	if code != 200 || !strings.Contains(body, `"my_choices":[1]`) || !strings.Contains(body, `"total_voters":1`) || !strings.Contains(body, `"closed":false`) {
		t.Fatalf("%d %s", code, body)
	}
	code, body = raw(t, ts, "GET", "/v1/groups/Fam/polls/ffffffff", "")
	if code != 404 || !strings.Contains(body, `"code":"no_such_poll"`) {
		t.Fatalf("%d %s", code, body)
	}
	f.Err = node.ErrPollClosed
	if _, err := c.Vote(ctx, "Fam", "ab12cd34", []int{0}); !errors.Is(err, node.ErrPollClosed) {
		t.Fatalf("closed: %v", err)
	}
	code, _ = raw(t, ts, "POST", "/v1/groups/Fam/polls/ab12cd34/vote", `{"choices":[0],"extra":1}`)
	if code != 400 {
		t.Fatalf("unknown field: %d", code)
	}
}
