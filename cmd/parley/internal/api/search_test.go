package api

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/parley-chat/parley/cmd/parley/internal/backend/backendtest"
	"github.com/parley-chat/parley/node"
)

func TestSearchEndpoint(t *testing.T) {
	f, c, ts := fakeServer(t)
	res, err := c.Search(context.Background(), "café au lait", node.SearchOptions{Group: "Team x", Limit: 5})
	if err != nil || len(res) != 3 || res[1].Message.Text != "found au" || res[0].GroupName != "Team" {
		t.Fatalf("Search = %+v, %v", res, err)
	}
	if got := lastCall(f); got != "search café au lait Team x 5" {
		t.Fatalf("call %q", got)
	}
	code, body := raw(t, ts, "GET", "/v1/search?q=one", "")
	var shape []map[string]any
	if code != 200 || json.Unmarshal([]byte(body), &shape) != nil || len(shape) != 1 {
		t.Fatalf("%d %s", code, body)
	}
	for _, k := range []string{"message", "group_id", "group_name", "cursor"} {
		if _, ok := shape[0][k]; !ok {
			t.Fatalf("result lacks %q: %s", k, body)
		}
	}
	if got := lastCall(f); got != "search one  20" {
		t.Fatalf("default limit: call %q", got)
	}
	if code, body := raw(t, ts, "GET", "/v1/search?q=x&limit=many", ""); code != 400 {
		t.Fatalf("bad limit: %d %s", code, body)
	}
	ms, err := c.HistoryAround(context.Background(), "Team", "abcd", 3)
	if err != nil || len(ms) != 1 || ms[0].ID != "abcd" || lastCall(f) != "around Team abcd 3" {
		t.Fatalf("HistoryAround = %+v, %v (%s)", ms, err, lastCall(f))
	}
	f.Err = node.ErrMessageNotHeld
	if _, err := c.HistoryAround(context.Background(), "Team", "abcd", 3); !errors.Is(err, node.ErrMessageNotHeld) {
		t.Fatalf("not held: %v", err)
	}
	_ = backendtest.SearchGroup
}

func lastCall(f *backendtest.Fake) string {
	c := f.Calls()
	if len(c) == 0 {
		return ""
	}
	return c[len(c)-1]
}
