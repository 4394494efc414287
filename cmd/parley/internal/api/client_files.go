package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/parley-chat/parley/node"
)

// SendFile has the node send the file at path (absolute, readable by the
// node: same machine).
func (c *Client) SendFile(ctx context.Context, group, path string) (node.Message, error) {
	var m node.Message
	return m, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/files", FileSendRequest{Path: path}, &m)
}

// UploadFile streams r's bytes to the node, which sends them as a file
// named name.
func (c *Client) UploadFile(ctx context.Context, group, name string, r io.Reader) (node.Message, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		c.base+"/v1/groups/"+ref(group)+"/files/upload?name="+url.QueryEscape(name), r)
	if err != nil {
		return node.Message{}, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/octet-stream")
	var m node.Message
	return m, c.send(req, &m)
}

// Files lists a group's files with their local state.
func (c *Client) Files(ctx context.Context, group string) ([]node.FileInfo, error) {
	var fs []node.FileInfo
	return fs, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/files", nil, &fs)
}

// File is one file's state.
func (c *Client) File(ctx context.Context, group, id string) (node.FileInfo, error) {
	var f node.FileInfo
	return f, c.do(ctx, http.MethodGet, "/v1/groups/"+ref(group)+"/files/"+ref(id), nil, &f)
}

// FetchFile starts fetching a file; wait makes the call return only when
// it is complete.
func (c *Client) FetchFile(ctx context.Context, group, id string, wait bool) (node.FileInfo, error) {
	q := ""
	if wait {
		q = "?wait=1"
	}
	var f node.FileInfo
	return f, c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/files/"+ref(id)+"/fetch"+q, nil, &f)
}

// SaveFile has the node write a complete file to path (absolute).
func (c *Client) SaveFile(ctx context.Context, group, id, path string) error {
	return c.do(ctx, http.MethodPost, "/v1/groups/"+ref(group)+"/files/"+ref(id)+"/save", FileSaveRequest{Path: path}, nil)
}

// FileContent opens a complete file's bytes from offset off.
func (c *Client) FileContent(ctx context.Context, group, id string, off int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/groups/"+ref(group)+"/files/"+ref(id)+"/content", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, wrapConnErr(req.Method, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		return nil, readError(resp)
	}
	return resp.Body, nil
}

// send does a prepared request and decodes a JSON answer into out.
func (c *Client) send(req *http.Request, out any) error {
	resp, err := c.hc.Do(req)
	if err != nil {
		return wrapConnErr(req.Method, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return readError(resp)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
