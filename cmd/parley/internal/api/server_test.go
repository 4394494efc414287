package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/parley-chat/parley/node"
	"github.com/parley-chat/parley/p2p"
	"github.com/parley-chat/parley/store"
)

const testToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newNode starts a real node on an in-memory store, loopback only, no mDNS.
func newNode(t *testing.T) *node.Node {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := node.New("",
		node.WithInMemoryStore(),
		node.WithDisplayName("tester"),
		node.WithLogger(quietLogger()),
		node.WithSyncInterval(0),
		node.WithP2P(p2p.WithListenAddrs([]string{"/ip4/127.0.0.1/tcp/0"}, nil), p2p.WithMDNS(false)),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return n
}

// newServer serves a fresh node over a loopback httptest server.
func newServer(t *testing.T, opts ...ServerOption) (*node.Node, *Server, *httptest.Server) {
	t.Helper()
	n := newNode(t)
	s := NewServer(n, testToken, append([]ServerOption{WithLogger(quietLogger())}, opts...)...)
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		s.Close()
		ts.Close()
	})
	return n, s, ts
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func do(t *testing.T, ts *httptest.Server, method, path, auth, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(testCtx(t), method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAuth(t *testing.T) {
	_, _, ts := newServer(t)
	cases := []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer " + strings.Repeat("0", 64), http.StatusUnauthorized},
		{"token prefix", "Bearer " + testToken[:10], http.StatusUnauthorized},
		{"not bearer", "Basic " + testToken, http.StatusUnauthorized},
		{"right token", "Bearer " + testToken, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, ts, http.MethodGet, "/v1/status", c.auth, "")
			if code != c.want {
				t.Fatalf("status %d, want %d (body %s)", code, c.want, body)
			}
			if code == http.StatusUnauthorized && !strings.Contains(body, `"error"`) {
				t.Fatalf("401 body is not a JSON error: %s", body)
			}
		})
	}
}

func TestNoCORSHeaders(t *testing.T) {
	_, _, ts := newServer(t)
	req, _ := http.NewRequestWithContext(testCtx(t), http.MethodGet, ts.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for k := range resp.Header {
		if strings.HasPrefix(strings.ToLower(k), "access-control-") {
			t.Fatalf("CORS header %s present", k)
		}
	}
}

func TestNonLoopbackForbidden(t *testing.T) {
	n := newNode(t)
	s := NewServer(n, testToken, WithLogger(quietLogger()))
	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:80", "10.0.0.1:5", "garbage"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("remote %s: status %d, want 403", remote, rec.Code)
		}
	}
	// Loopback (v4 and v6) is accepted.
	for _, remote := range []string{"127.0.0.1:1234", "[::1]:80"} {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		req.RemoteAddr = remote
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("remote %s: status %d, want 200", remote, rec.Code)
		}
	}
}

func mustGroupID(t *testing.T, s string) store.GroupID {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != store.GroupIDLen {
		t.Fatalf("group id %q", s)
	}
	return store.GroupID(b)
}

func TestErrorMapping(t *testing.T) {
	n, _, ts := newServer(t)
	ctx := testCtx(t)
	g1, err := n.CreateGroup(ctx, "Dup", false)
	if err != nil {
		t.Fatal(err)
	}
	// CreateGroup makes a taken name distinct ("Dup (2)"), so a second
	// "Dup" (as a join of a same-named group can still bring) goes in below
	// the node.
	g2, err := n.CreateGroup(ctx, "Dup", false)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := n.Store().GetGroup(mustGroupID(t, g2.ID))
	if err != nil {
		t.Fatal(err)
	}
	rec.Name = "Dup"
	if err := n.Store().PutGroup(rec); err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + testToken
	cases := []struct {
		name, method, path, body string
		want                     int
		contains                 []string
	}{
		{"not found", "GET", "/v1/groups/nope", "", 404, []string{"group not found", "nope"}},
		{"ambiguous", "GET", "/v1/groups/Dup/messages", "", 400, []string{"ambiguous", g1.ID, g2.ID}},
		{"invalid name", "POST", "/v1/groups", `{"name":""}`, 400, []string{"invalid input"}},
		{"unknown field", "POST", "/v1/groups", `{"nom":"x"}`, 400, []string{"invalid input"}},
		{"bad json", "POST", "/v1/join", `{`, 400, []string{"invalid input"}},
		{"bad invite", "POST", "/v1/join", `{"code":"parley1zzzz"}`, 400, []string{"invalid invite"}},
		{"empty text", "POST", "/v1/groups/" + g1.ID + "/messages", `{"text":"  "}`, 400, []string{"invalid input"}},
		{"bad limit", "GET", "/v1/groups/" + g1.ID + "/messages?limit=x", "", 400, []string{"limit"}},
		{"bad cursor", "GET", "/v1/groups/" + g1.ID + "/messages?before=zz", "", 400, []string{"cursor"}},
		{"too large", "POST", "/v1/groups/" + g1.ID + "/messages", `{"text":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, nil},
		{"no endpoint", "GET", "/v2/x", "", 404, nil},
		{"wrong method", "DELETE", "/v1/status", "", 405, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, ts, c.method, c.path, auth, c.body)
			if code != c.want {
				t.Fatalf("status %d, want %d (body %s)", code, c.want, body)
			}
			for _, s := range c.contains {
				if !strings.Contains(body, s) {
					t.Fatalf("body %s lacks %q", body, s)
				}
			}
		})
	}
	if got := StatusFor(errors.New("disk on fire")); got != 500 {
		t.Fatalf("generic error -> %d, want 500", got)
	}
	if got := StatusFor(fmt.Errorf("wrapped: %w", node.ErrGroupNotFound)); got != 404 {
		t.Fatalf("wrapped not found -> %d, want 404", got)
	}
}

func TestClientRoundTrip(t *testing.T) {
	n, _, ts := newServer(t)
	ctx := testCtx(t)
	c := NewClient(strings.TrimPrefix(ts.URL, "http://"), testToken)

	g, err := c.CreateGroup(ctx, "Family", true)
	if err != nil {
		t.Fatal(err)
	}
	if g.Name != "Family" || !g.HistoryFromJoin || len(g.ID) != 32 {
		t.Fatalf("created %+v", g)
	}
	m, err := c.Send(ctx, "Family", "hello")
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "hello" || m.Author != n.ID().String() {
		t.Fatalf("sent %+v", m)
	}
	hist, err := c.History(ctx, "Family", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 2 || hist[0].Kind != "join" || hist[1].Text != "hello" {
		t.Fatalf("history %+v", hist)
	}
	older, err := c.History(ctx, g.ID, hist[1].Cursor, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(older) != 1 || older[0].ID != hist[0].ID {
		t.Fatalf("page before cursor: %+v", older)
	}
	gs, err := c.Groups(ctx)
	if err != nil || len(gs) != 1 || gs[0].Messages != 2 {
		t.Fatalf("groups %+v, %v", gs, err)
	}
	ms, err := c.Members(ctx, "Family")
	if err != nil || len(ms) != 1 || !ms[0].Self || ms[0].Name != "tester" {
		t.Fatalf("members %+v, %v", ms, err)
	}
	code, err := c.Invite(ctx, "Family")
	if err != nil {
		t.Fatal(err)
	}
	if inv, err := node.DecodeInvite(code); err != nil || inv.GroupID != g.ID {
		t.Fatalf("invite %q: %+v, %v", code, inv, err)
	}
	// Joining a group already held returns it.
	if j, err := c.Join(ctx, code); err != nil || j.ID != g.ID {
		t.Fatalf("join own group: %+v, %v", j, err)
	}
	st, err := c.Status(ctx)
	if err != nil || st.ID != n.ID().String() || st.Groups != 1 || len(st.Addrs) == 0 {
		t.Fatalf("status %+v, %v", st, err)
	}
	if _, err := c.Peers(ctx); err != nil {
		t.Fatal(err)
	}

	// Node errors reach the caller verbatim.
	_, err = c.Send(ctx, "nope", "x")
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Error() != `group not found: "nope"` {
		t.Fatalf("send to missing group: %#v", err)
	}
	bad := NewClient(strings.TrimPrefix(ts.URL, "http://"), "wrong")
	if _, err := bad.Status(ctx); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("bad token: %v", err)
	}
}

func TestClientNotRunning(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, err = NewClient(addr, testToken).Status(testCtx(t))
	if !errors.Is(err, ErrNotRunning) {
		t.Fatalf("got %v, want ErrNotRunning", err)
	}
}

func TestEvents(t *testing.T) {
	n, _, ts := newServer(t, WithHeartbeat(20*time.Millisecond))
	ctx := testCtx(t)
	a, err := n.CreateGroup(ctx, "A", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateGroup(ctx, "B", false); err != nil {
		t.Fatal(err)
	}
	c := NewClient(strings.TrimPrefix(ts.URL, "http://"), testToken)

	ready := make(chan struct{})
	got := make(chan node.Event, 16)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- c.Events(sctx, "A", func() { close(ready) }, func(ev node.Event) error {
			got <- ev
			return nil
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("event stream ended early: %v", err)
	case <-ctx.Done():
		t.Fatal("timed out subscribing")
	}
	// A message in B first: filtered out, so the first event is A's.
	if _, err := n.Send(ctx, "B", "in B"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Send(ctx, "A", "in A"); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-got:
		if ev.Type != node.EventMessage || ev.Group != a.ID || ev.Message == nil || ev.Message.Text != "in A" {
			t.Fatalf("event %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event delivered")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("stream ended with %v after cancel", err)
		}
	case <-ctx.Done():
		t.Fatal("stream did not end on cancel")
	}

	// Unknown group: an error, before streaming.
	err = c.Events(ctx, "nope", nil, func(node.Event) error { return nil })
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("events for missing group: %v", err)
	}
}

func TestEventsRawSSE(t *testing.T) {
	n, _, ts := newServer(t, WithHeartbeat(10*time.Millisecond))
	ctx := testCtx(t)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ts.URL+"/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	if _, err := n.CreateGroup(ctx, "G", false); err != nil {
		t.Fatal(err)
	}
	// Read until a heartbeat and a data line carrying a JSON event are seen.
	buf := make([]byte, 0, 8192)
	tmp := make([]byte, 4096)
	var sawBeat, sawData bool
	for !sawBeat || !sawData {
		k, err := resp.Body.Read(tmp)
		if err != nil {
			t.Fatalf("read: %v (got %q)", err, buf)
		}
		buf = append(buf, tmp[:k]...)
		sawBeat = strings.Contains(string(buf), ": heartbeat\n\n")
		for _, frame := range strings.Split(string(buf), "\n\n") {
			if data, ok := strings.CutPrefix(frame, "data: "); ok {
				var ev node.Event
				if json.Unmarshal([]byte(data), &ev) == nil && ev.Type != "" {
					sawData = true
				}
			}
		}
	}
}

func TestServeShutdownEndsStreams(t *testing.T) {
	n := newNode(t)
	s := NewServer(n, testToken, WithLogger(quietLogger()))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- Serve(sctx, ln, s) }()

	ctx := testCtx(t)
	c := NewClient(ln.Addr().String(), testToken)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- c.Events(ctx, "", func() { close(ready) }, func(node.Event) error { return nil })
	}()
	select {
	case <-ready:
	case <-ctx.Done():
		t.Fatal("timed out subscribing")
	}
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Serve did not return")
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("stream end not reported")
		}
	case <-ctx.Done():
		t.Fatal("stream not closed by shutdown")
	}
}
