package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"

	"github.com/parley-chat/parley/node"
)

// ErrNotRunning means nothing answers at the node's address.
var ErrNotRunning = errors.New("node not running")

// Error is an error answer from the node. Its text is the node's message,
// verbatim.
type Error struct {
	Status  int
	Message string
	Code    string // the node error's code (ErrorResponse.Code), if any
}

// Error returns the node's message verbatim.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the node's sentinel error the code stands for (e.g.
// node.ErrNotAuthorized), so errors.Is works across the API.
func (e *Error) Unwrap() error { return sentinelFor(e.Code) }

// Client calls a node's control API.
type Client struct {
	base  string
	token string
	hc    *http.Client
}

// NewClient returns a client for the node at addr (host:port) with token.
func NewClient(addr, token string) *Client {
	tr := &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConns: 4}
	return &Client{base: "http://" + addr, token: token, hc: &http.Client{Transport: tr}}
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return wrapConnErr(method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readError(resp)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}

// wrapConnErr marks the errors that mean no node answers: a refused
// connection, and, for a read (which nothing can have half done), a
// connection closed before any answer, which is what a node that stops
// while the request waits in its listen queue gives.
func wrapConnErr(method string, err error) error {
	gone := errors.Is(err, syscall.ECONNREFUSED) ||
		(method == http.MethodGet && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)))
	if gone {
		return fmt.Errorf("%w: %v", ErrNotRunning, err)
	}
	return err
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxBodyBytes))
	var er ErrorResponse
	if json.Unmarshal(b, &er) == nil && er.Error != "" {
		return &Error{Status: resp.StatusCode, Message: er.Error, Code: er.Code}
	}
	return &Error{Status: resp.StatusCode, Message: fmt.Sprintf("node answered %s", resp.Status)}
}

func ref(r string) string { return url.PathEscape(r) }

// Status returns the node's status.
func (c *Client) Status(ctx context.Context) (node.Status, error) {
	var s node.Status
	return s, c.do(ctx, http.MethodGet, "/v1/status", nil, &s)
}

// Peers lists connected peers.
func (c *Client) Peers(ctx context.Context) ([]node.PeerInfo, error) {
	var p []node.PeerInfo
	return p, c.do(ctx, http.MethodGet, "/v1/peers", nil, &p)
}

// Groups lists groups.
func (c *Client) Groups(ctx context.Context) ([]node.GroupInfo, error) {
	var g []node.GroupInfo
	return g, c.do(ctx, http.MethodGet, "/v1/groups", nil, &g)
}

// Group describes one group, by name or id.
func (c *Client) Group(ctx context.Context, group string) (node.GroupInfo, error) {
	var g node.GroupInfo
	return g, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group), nil, &g)
}

// CreateGroup creates a group.
func (c *Client) CreateGroup(ctx context.Context, name string, historyFromJoin bool) (node.GroupInfo, error) {
	var g node.GroupInfo
	return g, c.do(ctx, http.MethodPost, "/v1/groups", CreateGroupRequest{Name: name, HistoryFromJoin: historyFromJoin}, &g)
}

// Members lists a group's members.
func (c *Client) Members(ctx context.Context, group string) ([]node.Member, error) {
	var m []node.Member
	return m, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/members", nil, &m)
}

// Invite returns an invite code for a group.
func (c *Client) Invite(ctx context.Context, group string) (string, error) {
	var r InviteResponse
	return r.Code, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/invite", nil, &r)
}

// Join joins the group an invite code names.
func (c *Client) Join(ctx context.Context, code string) (node.GroupInfo, error) {
	var g node.GroupInfo
	return g, c.do(ctx, http.MethodPost, "/v1/join", JoinRequest{Code: code}, &g)
}

// History returns up to limit messages before the cursor (empty: newest), oldest first.
func (c *Client) History(ctx context.Context, group, before string, limit int) ([]node.Message, error) {
	q := url.Values{}
	q.Set("limit", strconv.Itoa(limit))
	if before != "" {
		q.Set("before", before)
	}
	var m []node.Message
	return m, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/messages?"+q.Encode(), nil, &m)
}

// Send posts a text message.
func (c *Client) Send(ctx context.Context, group, text string) (node.Message, error) {
	var m node.Message
	return m, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/messages", SendRequest{Text: text}, &m)
}

// SendReply posts a text message quoting replyTo (an id or unique prefix).
func (c *Client) SendReply(ctx context.Context, group, text, replyTo string) (node.Message, error) {
	var m node.Message
	return m, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/messages", SendRequest{Text: text, ReplyTo: replyTo}, &m)
}

// Events follows the node's event stream, optionally for one group, calling
// fn for each event until ctx ends (nil is returned then), fn fails, or the
// stream ends (an error saying so). ready, if not nil, is called once the
// subscription is in place.
func (c *Client) Events(ctx context.Context, group string, ready func(), fn func(node.Event) error) error {
	path := "/v1/events"
	if group != "" {
		path += "?group=" + url.QueryEscape(group)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return wrapConnErr(http.MethodGet, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return readError(resp)
	}
	if ready != nil {
		ready()
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if len(data) == 0 {
				continue
			}
			var ev node.Event
			if err := json.Unmarshal([]byte(strings.Join(data, "\n")), &ev); err != nil {
				return fmt.Errorf("bad event: %w", err)
			}
			data = data[:0]
			if err := fn(ev); err != nil {
				return err
			}
		case strings.HasPrefix(line, ":"):
			// comment / heartbeat
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("event stream: %w", err)
	}
	return errors.New("event stream closed by the node")
}
