package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-chat/parley/node"
)

func TestSendOverLimitIsRefusedWithTheLimit(t *testing.T) {
	n, _, ts := newServer(t)
	gi, err := n.CreateGroup(testCtx(t), "Limits", false)
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + testToken
	path := "/v1/groups/" + gi.ID + "/messages"
	body := func(text string) string { b, _ := json.Marshal(SendRequest{Text: text}); return string(b) }
	// Counted in bytes of UTF-8: 8193 two-byte runes are 16386 bytes.
	over := strings.Repeat("é", node.MaxTextLen/2) + "x"
	code, resp := do(t, ts, http.MethodPost, path, auth, body(over))
	if code != http.StatusBadRequest || !strings.Contains(resp, "16385 bytes") || !strings.Contains(resp, "16384 bytes of UTF-8") {
		t.Fatalf("over the limit: %d %s", code, resp)
	}
	code, resp = do(t, ts, http.MethodPost, path, auth, body(strings.Repeat("a", 2*MaxBodyBytes)))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(resp, "16384 bytes of UTF-8") {
		t.Fatalf("far over the limit: %d %s", code, resp)
	}
	code, resp = do(t, ts, http.MethodPost, path, auth, body(over[:len(over)-1]))
	if code != http.StatusCreated {
		t.Fatalf("at the limit: %d %s", code, resp)
	}
}

func TestReadMuteMissingAndQR(t *testing.T) {
	n, _, ts := newServer(t)
	gi, err := n.CreateGroup(testCtx(t), "Family", false)
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + testToken
	g := "/v1/groups/" + gi.ID
	if code, resp := do(t, ts, http.MethodPost, g+"/read", auth, ""); code != http.StatusOK || !strings.Contains(resp, `"unread":0`) {
		t.Fatalf("read: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodGet, "/v1/last-open", auth, ""); code != http.StatusOK || !strings.Contains(resp, gi.ID) {
		t.Fatalf("last open: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodPost, g+"/mute", auth, ""); code != http.StatusOK || !strings.Contains(resp, `"muted":true`) {
		t.Fatalf("mute: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodGet, "/v1/groups", auth, ""); !strings.Contains(resp, `"muted":true`) || !strings.Contains(resp, `"mentions":0`) {
		t.Fatalf("groups: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodPost, g+"/unmute", auth, ""); code != http.StatusOK || strings.Contains(resp, `"muted"`) {
		t.Fatalf("unmute: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodGet, g+"/missing", auth, ""); code != http.StatusOK || strings.TrimSpace(resp) != "[]" {
		t.Fatalf("missing: %d %s", code, resp)
	}
	m, err := n.Send(testCtx(t), gi.ID, "mine")
	if err != nil {
		t.Fatal(err)
	}
	if code, resp := do(t, ts, http.MethodPost, g+"/delivery", auth, `{"ids":["`+m.ID+`"]}`); code != http.StatusOK ||
		!strings.Contains(resp, `"stored_by":1`) || !strings.Contains(resp, `"members":1`) {
		t.Fatalf("delivery: %d %s", code, resp)
	}
	if code, resp := do(t, ts, http.MethodPut, "/v1/profile/read-receipts", auth, `{"on":true}`); code != http.StatusOK || !n.ReadReceipts() {
		t.Fatalf("read receipts: %d %s", code, resp)
	}
	code, resp := do(t, ts, http.MethodPost, "/v1/qr", auth, `{"text":"parley1abcdefgh"}`)
	if code != http.StatusOK || !strings.HasPrefix(resp, "<svg") || !strings.Contains(resp, "M") {
		t.Fatalf("qr: %d %.80s", code, resp)
	}
	if code, _ := do(t, ts, http.MethodPost, "/v1/qr", "", `{"text":"x"}`); code != http.StatusUnauthorized {
		t.Fatalf("qr without token: %d", code)
	}
}
