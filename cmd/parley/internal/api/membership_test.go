package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/cmd/parley/internal/backend/backendtest"
	"github.com/parley-chat/parley/node"
)

func fakeServer(t *testing.T) (*backendtest.Fake, *Client, *httptest.Server) {
	t.Helper()
	f := backendtest.New()
	s := NewServer(f, testToken, WithLogger(quietLogger()))
	ts := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); ts.Close() })
	return f, NewClient(strings.TrimPrefix(ts.URL, "http://"), testToken), ts
}

// raw does one request and returns status and body.
func raw(t *testing.T, ts *httptest.Server, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestMembersJSONShape(t *testing.T) {
	f, _, ts := fakeServer(t)
	code, body := raw(t, ts, "GET", "/v1/groups/Fam/members", "")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var ms []map[string]any
	if err := json.Unmarshal([]byte(body), &ms); err != nil || len(ms) != 2 {
		t.Fatalf("%v %s", err, body)
	}
	want := map[string]any{"id": backendtest.SelfID, "peer_id": backendtest.SelfID, "name": "alice", "role": "owner",
		"safety_number": "11111 22222 33333", "self": true, "joined": "2026-03-01T09:00:00Z"}
	for k, v := range want {
		if ms[0][k] != v {
			t.Errorf("member[0][%q] = %v, want %v (%s)", k, ms[0][k], v, body)
		}
	}
	// A group without roles: the old list, no role or safety number.
	f.Roster = nil
	code, body = raw(t, ts, "GET", "/v1/groups/Fam/members", "")
	if code != 200 || strings.Contains(body, "role") || !strings.Contains(body, `"peer_id":"`+backendtest.SelfID) {
		t.Fatalf("legacy members: %d %s", code, body)
	}
}

func TestMembershipEndpointsCallTheBackend(t *testing.T) {
	f, c, _ := fakeServer(t)
	ctx := context.Background()
	steps := []struct {
		do   func() error
		call string
	}{
		{func() error { return c.RemoveMember(ctx, "Fam ily", "bob/x") }, "remove Fam ily bob/x"},
		{func() error { return c.Promote(ctx, "Fam", "bob") }, "promote Fam bob"},
		{func() error { return c.Demote(ctx, "Fam", "44444") }, "demote Fam 44444"},
		{func() error { return c.Leave(ctx, "Fam") }, "leave Fam"},
		{func() error { return c.RenameGroup(ctx, "Fam", "Family 2") }, "rename Fam Family 2"},
		{func() error { return c.SetDisplayName(ctx, "Alice B") }, "name Alice B"},
		{func() error { return c.RevokeInvite(ctx, "Fam", "inv1") }, "revoke Fam inv1"},
		{func() error { _, err := c.Invite(ctx, "Fam"); return err }, "invite Fam"},
		{func() error { _, _, err := c.CreateInvite(ctx, "Fam", 24*time.Hour, 1); return err }, "createinvite Fam 24h0m0s 1"},
		{func() error { _, _, err := c.CreateInvite(ctx, "Fam", 0, 0); return err }, "createinvite Fam 0s 0"},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.call, err)
		}
		if calls := f.Calls(); calls[len(calls)-1] != s.call {
			t.Fatalf("last call %q, want %q", calls[len(calls)-1], s.call)
		}
	}
	code, inv, err := c.CreateInvite(ctx, "Fam", time.Hour, 3)
	if err != nil || code != "parley1fakecode" || inv.ID != "inv1" || inv.MaxUses != 3 || !inv.Expires.Equal(inv.Created.Add(time.Hour)) {
		t.Fatalf("CreateInvite: %q %+v %v", code, inv, err)
	}
	p, err := c.Profile(ctx)
	if err != nil || p.ID != backendtest.SelfID || p.SafetyNumber != "11111 22222 33333" {
		t.Fatalf("profile %+v %v", p, err)
	}
}

func TestInvitesJSONShape(t *testing.T) {
	f, c, ts := fakeServer(t)
	code, body := raw(t, ts, "GET", "/v1/groups/Fam/invites", "")
	if code != 200 || strings.TrimSpace(body) != "[]" {
		t.Fatalf("no invites: %d %s", code, body)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	f.List = []node.InviteInfo{{ID: "inv1", Creator: "me", Created: t0, Expires: t0.Add(time.Hour), MaxUses: 1, Uses: 1, Revoked: true}}
	_, body = raw(t, ts, "GET", "/v1/groups/Fam/invites", "")
	want := `[{"id":"inv1","creator":"me","created":"2026-03-01T09:00:00Z","expires":"2026-03-01T10:00:00Z","max_uses":1,"uses":1,"revoked":true}]`
	if strings.TrimSpace(body) != want {
		t.Fatalf("invites:\n%s\nwant\n%s", body, want)
	}
	is, err := c.Invites(context.Background(), "Fam")
	if err != nil || len(is) != 1 || !is[0].Revoked || is[0].Uses != 1 {
		t.Fatalf("client invites %+v %v", is, err)
	}
	// Invite bodies: none or blank is a plain invite; bad ones are refused.
	for _, c := range []struct {
		body string
		code int
		call string
	}{
		{"", 200, "invite Fam"},
		{"  \n", 200, "invite Fam"},
		{`{"expires_seconds":60,"uses":2}`, 200, "createinvite Fam 1m0s 2"},
		{`{"uses":-1}`, 400, ""},
		{`{"expires_seconds":-5}`, 400, ""},
		{`{"bogus":1}`, 400, ""},
		{`{`, 400, ""},
	} {
		n := len(f.Calls())
		code, body := raw(t, ts, "POST", "/v1/groups/Fam/invite", c.body)
		if code != c.code {
			t.Errorf("body %q: %d %s", c.body, code, body)
		}
		calls := f.Calls()
		if c.call != "" && (len(calls) == n || calls[len(calls)-1] != c.call) {
			t.Errorf("body %q: calls %q, want %q", c.body, calls[n:], c.call)
		}
		if c.call == "" && len(calls) != n {
			t.Errorf("body %q: the backend was called: %q", c.body, calls[n:])
		}
	}
}

func TestMembershipErrorsMapToStatusAndBack(t *testing.T) {
	f, c, ts := fakeServer(t)
	for _, e := range []struct {
		err    error
		status int
		code   string
	}{
		{node.ErrAmbiguousMember, 409, "ambiguous_member"},
		{node.ErrNoSuchMember, 404, "no_such_member"},
		{node.ErrNotAuthorized, 403, "not_authorized"},
		{node.ErrLegacyGroup, 409, "legacy_group"},
		{node.ErrBadInvite, 400, "bad_invite"},
		{node.ErrGroupNotFound, 404, "group_not_found"},
		{node.ErrInvalidInput, 400, "invalid_input"},
		{errors.New("disk on fire"), 500, ""},
	} {
		f.Err = fmt.Errorf("%w: detail", e.err)
		status, body := raw(t, ts, "DELETE", "/v1/groups/Fam/members/bob", "")
		var er ErrorResponse
		if err := json.Unmarshal([]byte(body), &er); err != nil || status != e.status || er.Code != e.code || er.Error != f.Err.Error() {
			t.Errorf("%v: %d %s", e.err, status, body)
		}
		err := c.RemoveMember(context.Background(), "Fam", "bob")
		var ae *Error
		if !errors.As(err, &ae) || ae.Status != e.status || err.Error() != f.Err.Error() {
			t.Errorf("%v: client error %v", e.err, err)
		}
		if e.code != "" && !errors.Is(err, e.err) {
			t.Errorf("client error %v is not %v", err, e.err)
		}
		if e.code == "" && errors.Unwrap(err) != nil {
			t.Errorf("an unknown error unwraps to %v", errors.Unwrap(err))
		}
	}
	// A wrapped sentinel keeps its most specific code.
	f.Err = fmt.Errorf("%w: %w", node.ErrInvalidInput, node.ErrAmbiguousMember)
	if err := c.Promote(context.Background(), "Fam", "b"); !errors.Is(err, node.ErrAmbiguousMember) {
		t.Errorf("wrapped: %v", err)
	}
}
